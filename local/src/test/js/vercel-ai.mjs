// The Vercel AI SDK's streamText over its OpenAI provider's chat completions API (openai.chat; the
// provider's default, openai(model), is the Responses API). streamText does not throw: a failed
// request becomes an "error" part and an empty text stream, so errors are collected and printed.
// Env: AIGW_BASE_URL (…/v1), AIGW_API_KEY, AIGW_MODEL. Prints one JSON line: {text, chunks, usage, errors}.
import { createOpenAI } from "@ai-sdk/openai";
import { streamText } from "ai";

const openai = createOpenAI({ baseURL: process.env.AIGW_BASE_URL, apiKey: process.env.AIGW_API_KEY });
const errors = [];
const result = streamText({
  model: openai.chat(process.env.AIGW_MODEL),
  prompt: "Say hello",
  maxRetries: 0,
  onError: ({ error }) => errors.push(String(error?.message ?? error)),
});

let text = "";
let chunks = 0;
for await (const delta of result.textStream) {
  chunks++;
  text += delta;
}
let usage = null;
try {
  usage = await result.totalUsage;
} catch (error) {
  errors.push(String(error?.message ?? error));
}
console.log(JSON.stringify({ text, chunks, usage, errors }));
