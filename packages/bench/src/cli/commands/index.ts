import type { Command } from 'commander';
import * as generate from './generate.js';
import * as verify from './verify.js';
import * as refusal from './refusal.js';
import * as data from './data.js';
import * as evalCmd from './eval.js';
import * as rescore from './rescore.js';
import * as serve from './serve.js';
import * as report from './report.js';
import * as train from './train.js';
import * as run from './run.js';
import * as reproduce from './reproduce.js';
import * as tokenize from './tokenize.js';

/** A CLI subcommand module. */
export interface CommandModule {
  register(program: Command): void;
}

export const commandModules: CommandModule[] = [
  generate, verify, refusal, data, evalCmd, rescore, serve, report, train, run, reproduce, tokenize,
];
