#!/usr/bin/env node
// Committed launcher so the `falign` bin exists before the first build; the CLI itself is compiled to dist/.
import { main } from '../dist/cli/main.js';

await main(process.argv);
