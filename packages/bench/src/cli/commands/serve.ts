import type { Command } from 'commander';

// Placeholder until the 'serve' command lands; replaced by its owner.
export function register(program: Command): void {
  program.command('serve').description('(not built yet)').action(() => {
    throw new Error("'falign serve' is not built yet");
  });
}
