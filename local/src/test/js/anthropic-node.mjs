// The official Anthropic TypeScript SDK, as an application (or Claude Code) calls it.
// Usage: node anthropic-node.mjs create|stream|tool-create|tool-stream
// Env: AIGW_BASE_URL (the gateway's root, without /v1: the SDK adds /v1/messages), AIGW_API_KEY, AIGW_MODEL.
// Prints one JSON line: {text, events, stop_reason, tool, usage}.
import Anthropic from "@anthropic-ai/sdk";

const client = new Anthropic({ baseURL: process.env.AIGW_BASE_URL, apiKey: process.env.AIGW_API_KEY, maxRetries: 0 });
const mode = process.argv[2] ?? "create";
const model = process.env.AIGW_MODEL;

const weather = {
  name: "get_weather",
  description: "The current weather in a city.",
  input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};
const params = {
  model,
  max_tokens: 256,
  system: [{ type: "text", text: "Be brief.", cache_control: { type: "ephemeral" } }],
  messages: [{ role: "user", content: mode.startsWith("tool") ? "What is the weather in Paris?" : "Say hello" }],
  ...(mode.startsWith("tool") ? { tools: [weather], tool_choice: { type: "auto" } } : {}),
};

let message;
let events = 0;
let streamedText = "";
if (mode.endsWith("stream")) {
  const stream = client.messages.stream(params);
  stream.on("streamEvent", () => events++);
  stream.on("text", (delta) => (streamedText += delta));
  message = await stream.finalMessage();
} else {
  message = await client.messages.create(params);
}
const text = message.content.filter((b) => b.type === "text").map((b) => b.text).join("");
if (mode.endsWith("stream") && streamedText !== text) {
  throw new Error(`streamed text ${JSON.stringify(streamedText)} differs from the final message's ${JSON.stringify(text)}`);
}
const use = message.content.find((b) => b.type === "tool_use");
console.log(JSON.stringify({
  text,
  events,
  stop_reason: message.stop_reason,
  tool: use ? { name: use.name, input: use.input } : null,
  usage: message.usage,
}));
