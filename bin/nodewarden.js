#!/usr/bin/env node
// Thin launcher: the CLI is compiled TypeScript (built by `npm install`).
import('../dist/src/cli/main.js').then(
  (m) => m.main(process.argv.slice(2)),
  (err) => {
    console.error(`nodewarden: cannot load the build (${err.message}); run \`npm install\` or \`npm run build\` first`);
    process.exit(1);
  },
);
