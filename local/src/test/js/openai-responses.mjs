// The official OpenAI Node SDK's Responses API (what Codex CLI speaks), as an application calls it.
// Usage: node openai-responses.mjs plain|stream [tool]
// Env: AIGW_BASE_URL (…/v1), AIGW_API_KEY, AIGW_MODEL.
// Prints one JSON line: {text, status, usage, calls: [{name, arguments, call_id}], events}.
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.env.AIGW_BASE_URL, apiKey: process.env.AIGW_API_KEY, maxRetries: 0 });
const mode = process.argv[2] ?? "plain";
const withTool = process.argv[3] === "tool";
const params = {
  model: process.env.AIGW_MODEL,
  instructions: "Be brief.",
  input: withTool ? "What is the weather in Paris?" : "Say hello",
  store: false,
  ...(withTool
    ? {
        tools: [
          {
            type: "function",
            name: "get_weather",
            description: "The current weather in a city.",
            strict: false,
            parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
          },
        ],
      }
    : {}),
};

let response;
let events = 0;
let streamedText = "";
if (mode === "stream") {
  const stream = client.responses.stream(params);
  for await (const event of stream) {
    events++;
    if (event.type === "response.output_text.delta") streamedText += event.delta;
  }
  response = await stream.finalResponse();
} else {
  response = await client.responses.create(params);
}
const calls = response.output
  .filter((item) => item.type === "function_call")
  .map(({ name, arguments: args, call_id }) => ({ name, arguments: args, call_id }));
if (mode === "stream" && streamedText !== response.output_text) {
  throw new Error(`streamed text ${JSON.stringify(streamedText)} differs from the final response's ${JSON.stringify(response.output_text)}`);
}
console.log(JSON.stringify({ text: response.output_text, status: response.status, usage: response.usage, calls, events }));
