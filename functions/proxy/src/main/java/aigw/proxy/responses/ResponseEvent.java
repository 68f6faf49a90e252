package aigw.proxy.responses;

/**
 * One Server-Sent Event of a Responses stream: {@code event: <type>} and {@code data: <json>}, as
 * OpenAI sends them (https://platform.openai.com/docs/api-reference/responses-streaming).
 *
 * @param type the event's {@code type} member, e.g. {@code response.output_text.delta}
 * @param json the event's JSON, with its {@code sequence_number}
 */
public record ResponseEvent(String type, byte[] json) {}
