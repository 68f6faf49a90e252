package aigw.core.providers;

import aigw.core.usage.TokenUsage;

/** A successful provider answer, already in OpenAI's shape, with the tokens it reported. */
public record ProviderResponse(byte[] body, TokenUsage usage) {}
