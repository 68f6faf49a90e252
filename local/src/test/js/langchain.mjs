// LangChain's ChatOpenAI.stream(), as LangChain applications stream a chat model.
// Env: AIGW_BASE_URL (…/v1), AIGW_API_KEY, AIGW_MODEL. Prints one JSON line: {text, chunks, usage}.
import { ChatOpenAI } from "@langchain/openai";

const llm = new ChatOpenAI({
  model: process.env.AIGW_MODEL,
  apiKey: process.env.AIGW_API_KEY,
  configuration: { baseURL: process.env.AIGW_BASE_URL },
  streamUsage: true,
  maxRetries: 0,
});

let text = "";
let chunks = 0;
let usage = null;
for await (const chunk of await llm.stream("Say hello")) {
  chunks++;
  text += typeof chunk.content === "string" ? chunk.content : "";
  usage = chunk.usage_metadata ?? usage;
}
console.log(JSON.stringify({ text, chunks, usage }));
