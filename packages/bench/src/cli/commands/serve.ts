/**
 * `falign serve`: an OpenAI-compatible endpoint (/v1/completions, /v1/chat/completions,
 * /v1/models) for an in-process model. Concurrent requests with the same sampling settings are
 * merged into one generate call (`--max-batch` sequences at most).
 *
 *   falign serve --model llama2c:stories260K.bin --port 8000
 */
import { basename, join } from 'node:path';
import type { Command } from 'commander';
import { chatTemplateFromFile, defaultChatTemplate, tokenizerChatTemplate } from '../../server/chat-template.js';
import { startServer } from '../../server/app.js';
import { loadServablePolicy } from '../../server/load-policy.js';
import { loadPolicyInWorker } from '../../server/worker-policy.js';
import { BACKEND_HELP, intArg, parseBackend, markRequiredInHelp } from '../options.js';
import { portArg, probePort, requireInputFile } from '../../util/errors.js';

/** Model id shown to clients: the file/dir name without extension unless --name is given. */
function defaultModelId(spec: string): string {
  const path = spec.replace(/^[a-z0-9]+:/, '').replace(/[\\/]+$/, '');
  return basename(path).replace(/\.bin$/, '') || 'model';
}

export function register(program: Command): void {
  markRequiredInHelp(program.command('serve'))
    .description('serve an in-process model (llama2c:PATH.bin, falign:DIR or hf:DIR) over an OpenAI-compatible HTTP API')
    .requiredOption('--model <spec>', 'llama2c:PATH.bin, falign:DIR or hf:DIR')
    .option('--port <n>', 'port, 1-65535 (0 picks a free one); checked before the model loads', portArg('--port'), 8000)
    .option('--host <host>', 'interface to bind', '127.0.0.1')
    .option('--name <id>', 'model id clients use (default: file or directory name)')
    .option('--tokenizer <path>', 'tokenizer file (llama2.c tokenizer.bin or falign tokenizer.json); default: beside the model')
    .option('--adapter <dir>', 'a LoRA adapter in PEFT layout (adapter_config.json + adapter_model.safetensors) applied to --model')
    .option('--backend <name>', BACKEND_HELP)
    .option('--max-batch <n>', 'requests merged into one generate call, counted in sequences (prompts x n); a bigger request runs alone', intArg('--max-batch', 1), 32)
    .option('--batch-window-ms <ms>', 'shortest wait for requests to batch together (0 = none)', intArg('--batch-window-ms', 0), 5)
    .option('--batch-max-window-ms <ms>', 'longest wait; the wait adapts to 10% of the last batch time', intArg('--batch-max-window-ms', 0), 50)
    .option('--chat-template <file>', 'chat template: a Jinja file, or a tokenizer_config.json with chat_template (default: the hf:DIR model\'s own template, else a "User:/Assistant:" transcript)')
    .option('--no-truncate-prompt', 'answer 400 when prompt + max_tokens exceed the context, instead of dropping the oldest prompt tokens like in-process evaluation does')
    .option('--max-batch-tokens <n>', 'most padded tokens per generate call, rows x (longest prompt + max_tokens): bounds memory (long prompts batch in twos)', intArg('--max-batch-tokens', 1), 1024)
    .option('--max-body-bytes <n>', 'largest request body; bigger ones get 413 before they are read', intArg('--max-body-bytes', 1), 1024 * 1024)
    .option('--max-pending <n>', 'most requests admitted at once (running or waiting); more get 503 with Retry-After', intArg('--max-pending', 1), 256)
    .option('--no-model-worker', 'run the model on the server thread (then /health waits while a batch computes)')
    .option('--quiet', 'no per-request log lines on stderr')
    .option('--json', 'print one JSON line {url, model, port} instead of the human line')
    .action(async (o: {
      model: string; port: number; host: string; name?: string; tokenizer?: string; adapter?: string; backend?: string;
      maxBatch: number; batchWindowMs: number; batchMaxWindowMs: number; chatTemplate?: string; truncatePrompt: boolean; quiet?: boolean; json?: boolean;
      maxBodyBytes: number; maxPending: number; maxBatchTokens: number; modelWorker?: boolean;
    }) => {
      const backend = parseBackend(o.backend);
      // Everything that can fail fast is checked before the (slow) model load: a port in use must
      // not be reported only after a minute of loading.
      if (o.chatTemplate) requireInputFile(o.chatTemplate, '--chat-template');
      if (o.tokenizer) requireInputFile(o.tokenizer, '--tokenizer');
      if (o.adapter) requireInputFile(join(o.adapter, 'adapter_config.json'), '--adapter');
      await probePort(o.host, o.port);
      const fileTemplate = o.chatTemplate ? chatTemplateFromFile(o.chatTemplate) : undefined;
      // The model computes in a worker thread so that /health and request parsing never wait
      // behind a batch (--no-model-worker keeps it on the server thread).
      const load = o.modelWorker === false ? loadServablePolicy : loadPolicyInWorker;
      const policy = await load(o.model, { tokenizer: o.tokenizer, backend, adapter: o.adapter });
      // An hf:DIR model brings its own chat template (tokenizer_config.json).
      const chatTemplate = fileTemplate ?? tokenizerChatTemplate(policy.tokenizer) ?? defaultChatTemplate;
      const modelId = o.name ?? defaultModelId(o.model);
      const server = await startServer({
        policy,
        modelId,
        host: o.host,
        port: o.port,
        maxBatch: o.maxBatch,
        batchWindowMs: o.batchWindowMs,
        batchMaxWindowMs: o.batchMaxWindowMs,
        chatTemplate,
        truncatePrompt: o.truncatePrompt,
        maxBodyBytes: o.maxBodyBytes,
        maxBatchTokens: o.maxBatchTokens,
        maxPending: o.maxPending,
        log: o.quiet ? undefined : (line) => process.stderr.write(`${line}\n`),
      });
      if (o.json) process.stdout.write(`${JSON.stringify({ url: server.url, model: modelId, port: server.port })}\n`);
      else process.stdout.write(`falign serve: ${modelId} listening on ${server.url} (model spec openai:${server.url}#${modelId})\n`);

      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = (signal: string): void => {
          if (stopping) {
            process.stderr.write(`falign serve: second ${signal}, exiting now\n`);
            process.exit(130);
          }
          stopping = true;
          process.stderr.write(`falign serve: ${signal}, finishing in-flight requests...\n`);
          void server.close().then(() => {
            policy.dispose?.();
            resolve();
          });
        };
        process.on('SIGINT', () => stop('SIGINT'));
        process.on('SIGTERM', () => stop('SIGTERM'));
      });
      process.stderr.write('falign serve: stopped\n');
    });
}
