import { defineConfig } from "vitest/config"

// Two tiers: `unit` needs nothing but Node (loopback servers are started by the tests
// themselves); `services` talks to real servers (moto, Swift) that `test/services/*.sh` start.
// The AWS SDK warns about Node 20 once per process (its documented switch turns that off); the
// warning is not what the tests look at.
const env = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" }

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/**/*.test.ts"],
          exclude: ["test/services/**"],
          setupFiles: ["test/support/setup.ts"],
          env,
          testTimeout: 30_000
        }
      },
      {
        test: {
          name: "services",
          include: ["test/services/**/*.test.ts"],
          setupFiles: ["test/support/setup.ts"],
          env,
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // One server set per run: service suites share moto and Swift, so they run one file at a time.
          pool: "forks",
          poolOptions: { forks: { singleFork: true } }
        }
      }
    ]
  }
})
