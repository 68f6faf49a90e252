// The official OpenAI Node SDK streaming, as an application calls it.
// Usage: node openai-node.mjs chat|chat-with-usage|completions
// Env: AIGW_BASE_URL (…/v1), AIGW_API_KEY, AIGW_MODEL. Prints one JSON line: {text, chunks, usage}.
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.env.AIGW_BASE_URL, apiKey: process.env.AIGW_API_KEY, maxRetries: 0 });
const mode = process.argv[2] ?? "chat";
const model = process.env.AIGW_MODEL;

let text = "";
let chunks = 0;
let usage = null;
if (mode === "completions") {
  const stream = await client.completions.create({ model, prompt: "Say hello", stream: true });
  for await (const chunk of stream) {
    chunks++;
    text += chunk.choices[0]?.text ?? "";
    usage = chunk.usage ?? usage;
  }
} else {
  const stream = await client.chat.completions.create({
    model,
    messages: [{ role: "user", content: "Say hello" }],
    stream: true,
    ...(mode === "chat-with-usage" ? { stream_options: { include_usage: true } } : {}),
  });
  for await (const chunk of stream) {
    chunks++;
    text += chunk.choices[0]?.delta?.content ?? "";
    usage = chunk.usage ?? usage;
  }
}
console.log(JSON.stringify({ text, chunks, usage }));
