/** Container fetcher settings for tests that call the fetcher outside a layer. */
import * as Duration from "effect/Duration"
import type * as ContainerFetcher from "../../src/internal/container.js"
import * as Container from "../../src/providers/ContainerCredentials.js"

/** The settings one fetch runs with, from the source's options (as `Container.layerWith` decodes them). */
export const settingsOf = (options: Container.Options = {}): ContainerFetcher.Settings => ({
  timeout: Duration.decode(options.timeout ?? Container.defaults.timeout),
  maxAttempts: options.maxAttempts ?? Container.defaults.maxAttempts,
  backoff: Duration.decode(options.backoff ?? Container.defaults.backoff),
  httpClient: options.httpClient,
  lookup: options.lookup
})
