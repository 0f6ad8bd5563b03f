import { defineConfig } from "vitest/config"

// Two tiers: `unit` needs nothing but Node (loopback servers are started by the tests
// themselves); `services` talks to real servers (moto, Swift) that `test/services/*.sh` start.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/**/*.test.ts"],
          exclude: ["test/services/**"],
          setupFiles: ["test/support/setup.ts"],
          testTimeout: 30_000
        }
      },
      {
        test: {
          name: "services",
          include: ["test/services/**/*.test.ts"],
          setupFiles: ["test/support/setup.ts"],
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
