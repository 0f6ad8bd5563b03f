/** Container fetcher settings for tests that call the fetcher outside a layer. */
import * as ContainerFetcher from "../../src/internal/container.js"
import type * as Container from "../../src/providers/ContainerCredentials.js"

/** The settings one fetch runs with, from the source's options (as `Container.layerWith` decodes them). */
export const settingsOf = (options: Container.Options = {}): ContainerFetcher.Settings => ContainerFetcher.settingsOf(options)
