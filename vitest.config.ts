import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The CLI tests run dist/: build it first when it is older than src/. Then one temporary
    // FERRY_STATE_DIR for the whole run.
    globalSetup: ["test/global-setup.ts", "test/helpers/state-dir.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
