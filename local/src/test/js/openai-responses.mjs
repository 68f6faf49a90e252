// The official OpenAI Node SDK's Responses API (what Codex CLI speaks), as an application calls it.
// Usage: node openai-responses.mjs plain|stream [tool|roundtrip]
// Env: AIGW_BASE_URL (…/v1), AIGW_API_KEY, AIGW_MODEL, AIGW_TOOL_RESULT (roundtrip: what the tool returns).
// Prints one JSON line: {text, status, usage, calls: [{name, arguments, call_id}], events}. A roundtrip sends the
// result of the function the model called back (a second request, the first output as input items): text,
// status and usage are then the second response's, calls the first's.
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.env.AIGW_BASE_URL, apiKey: process.env.AIGW_API_KEY, maxRetries: 0 });
const mode = process.argv[2] ?? "plain";
const roundTrip = process.argv[3] === "roundtrip";
const withTool = process.argv[3] === "tool" || roundTrip;
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

let events = 0;

async function send(request) {
  let response;
  let streamedText = "";
  if (mode === "stream") {
    const stream = client.responses.stream(request);
    for await (const event of stream) {
      events++;
      if (event.type === "response.output_text.delta") streamedText += event.delta;
    }
    response = await stream.finalResponse();
  } else {
    response = await client.responses.create(request);
  }
  if (mode === "stream" && streamedText !== response.output_text) {
    throw new Error(`streamed text ${JSON.stringify(streamedText)} differs from the final response's ${JSON.stringify(response.output_text)}`);
  }
  return response;
}

let response = await send(params);
const calls = response.output
  .filter((item) => item.type === "function_call")
  .map(({ name, arguments: args, call_id }) => ({ name, arguments: args, call_id }));
if (roundTrip) {
  if (calls.length === 0) throw new Error(`no function_call to answer: ${JSON.stringify(response.output)}`);
  response = await send({
    ...params,
    input: [
      { role: "user", content: params.input },
      ...response.output.filter((item) => item.type === "function_call"),
      ...calls.map(({ call_id }) => ({ type: "function_call_output", call_id, output: process.env.AIGW_TOOL_RESULT })),
    ],
  });
}
console.log(JSON.stringify({ text: response.output_text, status: response.status, usage: response.usage, calls, events }));
