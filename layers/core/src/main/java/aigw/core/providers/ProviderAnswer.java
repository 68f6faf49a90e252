package aigw.core.providers;

/**
 * A provider's successful answer, in OpenAI's shape: either whole ({@link ProviderResponse}, for a
 * request without {@code stream}) or a stream of chunks ({@link ProviderStream}). Failures are
 * thrown, not answered.
 */
public sealed interface ProviderAnswer permits ProviderResponse, ProviderStream {}
