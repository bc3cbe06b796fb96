/**
 * `falign generate`: sample text from an in-process model (`llama2c:PATH.bin` or `falign:DIR`).
 *
 *   falign generate --model llama2c:stories260K.bin --prompt "" --max-new-tokens 256 --temperature 0
 *
 * Human output is the completion text (samples separated by a `---` line); `--json` prints one
 * JSON object: the first sample's `text`, `tokenIds` (generated ids only), `promptTokenIds`,
 * `tokenLogprobs`, `finishReason`, `firstLogits` (the full-vocabulary logits of the first
 * generated step), plus `samples` (all of them) and `backend`. Timing goes to stderr.
 * `--samples` is an alias of `--num-samples`; `--batch-size` is the number of sequences the
 * sampler decodes at once, as everywhere in the CLI.
 */
import type { Command } from 'commander';
import { HfTokenizer, initBackend, loadLoraAdapter, loadPolicy, type Completion, type LoraAdapter, type Tokenizer } from '@falign/core';
import { BACKEND_HELP, intArg as int, numberArg as parseNumber, parseBackend, markRequiredInHelp } from '../options.js';

/** Options of {@link runGenerate}, as the command line gives them. */
export interface GenerateCliOptions {
  model: string;
  tokenizer?: string;
  /** LoRA adapter directory (PEFT layout) applied to the model. */
  adapter?: string;
  prompt: string;
  maxNewTokens: number;
  temperature: number;
  topK?: number;
  topP?: number;
  seed?: number;
  numSamples: number;
  stop?: string[];
  batchSize?: number;
  backend?: string;
  /** Wrap --prompt as a user turn in the model's chat template (hf: models). */
  chat?: boolean;
  /** System message for --chat. */
  system?: string;
}

/** What `--json` prints. */
export interface GenerateJson {
  text: string;
  tokenIds: number[];
  promptTokenIds: number[];
  tokenLogprobs: number[];
  finishReason: Completion['finishReason'];
  firstLogits: number[];
  samples: { text: string; tokenIds: number[]; tokenLogprobs: number[]; finishReason: Completion['finishReason'] }[];
  backend: string;
  model: string;
  elapsedMs: number;
}

/**
 * The prompt ids of `--chat`: the user turn (after an optional system turn) rendered by the
 * tokenizer's chat template with the generation prompt, tokenized without adding specials again.
 */
function chatPromptIds(tokenizer: Tokenizer, prompt: string, system?: string): number[] {
  if (!(tokenizer instanceof HfTokenizer) || tokenizer.chatTemplate === null) {
    throw new Error(`--chat: the model's tokenizer (${tokenizer.kind}) has no chat template; use an hf:DIR model whose tokenizer_config.json has "chat_template"`);
  }
  const messages = [...(system !== undefined ? [{ role: 'system', content: system }] : []), { role: 'user', content: prompt }];
  return tokenizer.encodeChat(messages);
}

/** Runs generation for the CLI; returned for tests and for `--json`. */
export async function runGenerate(o: GenerateCliOptions): Promise<GenerateJson> {
  if (o.model.startsWith('openai:')) {
    throw new Error('--model: generate runs in-process models only (llama2c:PATH.bin, falign:DIR, hf:DIR); openai: endpoints are for eval/serve');
  }
  const backend = await initBackend(parseBackend(o.backend));
  const policy = await loadPolicy(o.model, { tokenizer: o.tokenizer, trainable: false });
  let adapter: LoraAdapter | undefined;
  try {
    if (o.adapter) adapter = await loadLoraAdapter(o.adapter, policy.model, { trainable: false }).catch((e: Error) => {
      throw new Error(`--adapter ${o.adapter}: ${e.message}`, { cause: e });
    });
    if (o.system !== undefined && !o.chat) throw new Error('--system needs --chat');
    const prompts: string[] | number[][] = o.chat ? [chatPromptIds(policy.tokenizer, o.prompt, o.system)] : [o.prompt];
    const t0 = performance.now();
    const out = await policy.generate(prompts, {
      maxNewTokens: o.maxNewTokens,
      temperature: o.temperature,
      topK: o.topK,
      topP: o.topP,
      seed: o.seed,
      numSamples: o.numSamples,
      stopStrings: o.stop,
      batchSize: o.batchSize,
      returnFirstLogits: true,
    });
    const elapsedMs = performance.now() - t0;
    const first = out[0];
    return {
      text: first.text,
      tokenIds: first.tokenIds,
      promptTokenIds: first.promptTokenIds,
      tokenLogprobs: first.tokenLogprobs,
      finishReason: first.finishReason,
      firstLogits: Array.from(first.firstLogits ?? []),
      samples: out.map((c) => ({ text: c.text, tokenIds: c.tokenIds, tokenLogprobs: c.tokenLogprobs, finishReason: c.finishReason })),
      backend,
      model: o.model,
      elapsedMs,
    };
  } finally {
    adapter?.dispose();
    policy.dispose();
  }
}

export function register(program: Command): void {
  markRequiredInHelp(program.command('generate'))
    .description('sample text from a model (llama2c:PATH.bin, falign:DIR or hf:DIR)')
    .requiredOption('--model <spec>', 'llama2c:PATH.bin, falign:DIR or hf:DIR')
    .option('--tokenizer <path>', 'tokenizer file (llama2.c tokenizer.bin or falign tokenizer.json); default: beside the model')
    .option('--adapter <dir>', 'a LoRA adapter in PEFT layout (adapter_config.json + adapter_model.safetensors) applied to --model')
    .option('--prompt <text>', 'prompt text; empty = BOS only', '')
    .option('--max-new-tokens <n>', 'most tokens to generate', int('--max-new-tokens', 0), 256)
    .option('--temperature <t>', 'sampling temperature; 0 = greedy', parseNumber('--temperature', (v) => v >= 0, 'a number >= 0'), 1)
    .option('--top-k <k>', 'keep the k most likely tokens (0 = off)', int('--top-k', 0))
    .option('--top-p <p>', 'nucleus sampling mass in (0, 1]', parseNumber('--top-p', (v) => v > 0 && v <= 1, 'a number in (0, 1]'))
    .option('--seed <s>', 'sampling seed', int('--seed', 0))
    .option('--samples, --num-samples <n>', 'completions to draw (--samples is an alias)', int('--num-samples', 1), 1)
    .option('--stop <text...>', 'stop strings (the text is cut before them)')
    .option('--batch-size <n>', 'most sequences the sampler decodes at once (default 64)', int('--batch-size', 1))
    .option('--backend <name>', BACKEND_HELP)
    .option('--chat', "apply the model's chat template (tokenizer_config.json of an hf:DIR model) to --prompt as a user turn")
    .option('--system <text>', 'system message for --chat')
    .option('--json', 'print one JSON object instead of the text')
    .action(async (opts: GenerateCliOptions & { json?: boolean }) => {
      const r = await runGenerate(opts);
      const nTok = r.samples.reduce((a, s) => a + s.tokenIds.length, 0);
      process.stderr.write(
        `[falign] ${nTok} tokens in ${(r.elapsedMs / 1000).toFixed(2)} s (${((1000 * nTok) / Math.max(r.elapsedMs, 1e-9)).toFixed(1)} tok/s), backend ${r.backend}\n`,
      );
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(r)}\n`);
      } else {
        process.stdout.write(`${r.samples.map((s) => s.text).join('\n---\n')}\n`);
      }
    });
}
