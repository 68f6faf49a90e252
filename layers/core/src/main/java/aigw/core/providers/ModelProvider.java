package aigw.core.providers;

import aigw.core.config.Deployment;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * One upstream API. Takes an OpenAI-shaped request, answers in OpenAI's shape, and reports tokens.
 * Failures are thrown as {@code UpstreamFailed}, {@code UpstreamUnreachable} or {@code
 * UpstreamTimeout}.
 */
public interface ModelProvider {
  ProviderResponse call(Deployment deployment, Operation operation, ObjectNode request);
}
