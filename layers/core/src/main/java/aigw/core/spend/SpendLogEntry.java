package aigw.core.spend;

import java.math.BigDecimal;
import java.time.Instant;

/**
 * One model call as the spend logs keep it.
 *
 * @param requestId the gateway's request id (the one in error messages and logs)
 * @param keyId the virtual key's stable id; null for the master key
 * @param keyAlias the key's alias at the time of the call, or null
 * @param teamId the key's team, or null
 * @param model the public model name the client asked for
 * @param deployment the deployment that answered ({@code litellm_params.model}, e.g. {@code openai/gpt-4o}), or null if none did
 * @param cost USD
 * @param status the HTTP status the client got; for a stream that ended with an error event after its
 *     200, that error's status (499 when the client left), so it reads as the failure it was
 * @param latencyMillis from the request's arrival to the end of its answer
 * @param estimated whether the tokens are the gateway's estimate (a stream cut before the provider's usage)
 * @param startTime when the request arrived
 */
public record SpendLogEntry(
    String requestId,
    String keyId,
    String keyAlias,
    String teamId,
    String model,
    String deployment,
    long promptTokens,
    long completionTokens,
    long totalTokens,
    BigDecimal cost,
    int status,
    long latencyMillis,
    boolean estimated,
    Instant startTime) {}
