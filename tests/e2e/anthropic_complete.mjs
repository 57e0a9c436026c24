// The official Anthropic TypeScript SDK's legacy Text Completions client
// (`client.completions.create`, dropped from its 1.x line), once whole and
// once streamed. Prints {"whole": ..., "streamed": ..., "stop": ...} as JSON;
// an API error exits 2 with its status and type, as an agent would see them.
import Anthropic from "@anthropic-ai/sdk";

const client = new Anthropic({
  baseURL: process.env.ANTHROPIC_BASE_URL,
  apiKey: process.env.ANTHROPIC_API_KEY,
  maxRetries: 0,
});
const prompt = `\n\nHuman: ${process.argv[2]}\n\nAssistant:`;
const params = { model: "claude-2.1", max_tokens_to_sample: 256, prompt };
try {
  const whole = await client.completions.create(params);
  let streamed = "";
  let stop = null;
  for await (const piece of await client.completions.create({ ...params, stream: true })) {
    streamed += piece.completion;
    stop = piece.stop_reason ?? stop;
  }
  console.log(JSON.stringify({ whole: whole.completion, streamed, stop }));
} catch (error) {
  if (error instanceof Anthropic.APIError) {
    console.log(JSON.stringify({ status: error.status, type: error.error?.error?.type }));
    process.exit(2);
  }
  throw error;
}
