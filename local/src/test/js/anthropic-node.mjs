// The official Anthropic TypeScript SDK, as an application (or Claude Code) calls it.
// Usage: node anthropic-node.mjs create|stream|tool-create|tool-stream|roundtrip-create|roundtrip-stream
// Env: AIGW_BASE_URL (the gateway's root, without /v1: the SDK adds /v1/messages), AIGW_API_KEY, AIGW_MODEL,
// AIGW_TOOL_RESULT (roundtrip: what the tool returns), AIGW_THINKING_BUDGET (optional: extended thinking with that budget).
// Prints one JSON line: {text, events, stop_reason, first_stop_reason, tool, thinking, usage}. A roundtrip runs the tool the model called and
// sends its result back (a second request, with the first answer's content as the assistant turn): text,
// stop_reason and usage are then the second answer's, tool the first's call, and thinking the first answer's
// thinking blocks ({type, signature} of thinking and redacted_thinking), sent back unchanged as the SDK keeps them.
import Anthropic from "@anthropic-ai/sdk";

const client = new Anthropic({ baseURL: process.env.AIGW_BASE_URL, apiKey: process.env.AIGW_API_KEY, maxRetries: 0 });
const argument = process.argv[2] ?? "create";
const roundTrip = argument.startsWith("roundtrip");
const mode = roundTrip ? argument.replace("roundtrip", "tool") : argument;
const model = process.env.AIGW_MODEL;

const weather = {
  name: "get_weather",
  description: "The current weather in a city.",
  input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};
const budget = process.env.AIGW_THINKING_BUDGET ? Number(process.env.AIGW_THINKING_BUDGET) : null;
const params = {
  model,
  max_tokens: budget ? budget + 1024 : 256,
  ...(budget ? { thinking: { type: "enabled", budget_tokens: budget } } : {}),
  system: [{ type: "text", text: "Be brief.", cache_control: { type: "ephemeral" } }],
  messages: [{ role: "user", content: mode.startsWith("tool") ? "What is the weather in Paris?" : "Say hello" }],
  ...(mode.startsWith("tool") ? { tools: [weather], tool_choice: { type: "auto" } } : {}),
};

let events = 0;

async function send(request) {
  let streamedText = "";
  let message;
  if (mode.endsWith("stream")) {
    const stream = client.messages.stream(request);
    stream.on("streamEvent", () => events++);
    stream.on("text", (delta) => (streamedText += delta));
    message = await stream.finalMessage();
  } else {
    message = await client.messages.create(request);
  }
  const said = message.content.filter((b) => b.type === "text").map((b) => b.text).join("");
  if (mode.endsWith("stream") && streamedText !== said) {
    throw new Error(`streamed text ${JSON.stringify(streamedText)} differs from the final message's ${JSON.stringify(said)}`);
  }
  return message;
}

let message = await send(params);
const firstStopReason = message.stop_reason;
const use = message.content.find((b) => b.type === "tool_use");
const thinking = message.content
  .filter((b) => b.type === "thinking" || b.type === "redacted_thinking")
  .map((b) => ({ type: b.type, signature: b.signature, data: b.data }));
if (roundTrip) {
  if (!use) throw new Error(`no tool_use to answer: ${JSON.stringify(message)}`);
  message = await send({
    ...params,
    messages: [
      ...params.messages,
      { role: "assistant", content: message.content },
      { role: "user", content: [{ type: "tool_result", tool_use_id: use.id, content: process.env.AIGW_TOOL_RESULT }] },
    ],
  });
}
const text = message.content.filter((b) => b.type === "text").map((b) => b.text).join("");
console.log(JSON.stringify({
  text,
  events,
  stop_reason: message.stop_reason,
  first_stop_reason: firstStopReason,
  tool: use ? { name: use.name, input: use.input } : null,
  thinking,
  usage: message.usage,
}));
