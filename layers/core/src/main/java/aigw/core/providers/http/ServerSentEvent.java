package aigw.core.providers.http;

/**
 * One Server-Sent Event as a provider sent it.
 *
 * @param event its {@code event:} field (Anthropic names its events: {@code message_start},
 *     {@code content_block_delta}...), or null when it has none (OpenAI)
 * @param data its {@code data:} lines joined with {@code \n}
 */
public record ServerSentEvent(String event, String data) {}
