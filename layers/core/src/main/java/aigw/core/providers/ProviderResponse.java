package aigw.core.providers;

import aigw.core.usage.TokenUsage;

/**
 * A complete provider answer, already in OpenAI's shape, with the tokens it reported.
 *
 * @param body the OpenAI JSON body ({@code chat.completion}, {@code text_completion}, embeddings list)
 */
public record ProviderResponse(byte[] body, TokenUsage usage) implements ProviderAnswer {}
