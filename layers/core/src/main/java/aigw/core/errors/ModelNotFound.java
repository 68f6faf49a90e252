package aigw.core.errors;

/**
 * Thrown by {@code GET /v1/models/{id}} for a model the gateway does not serve or the key may not
 * use (HTTP 404). Its body is OpenAI's own for this case: type {@code invalid_request_error}, code
 * {@code model_not_found}, and one message for both causes, so a key cannot probe which models exist.
 */
public final class ModelNotFound extends GatewayException {
  /** OpenAI's {@code code} for an unknown model, which SDKs expose (e.g. {@code OpenAIError.code}). */
  public static final String CODE = "model_not_found";

  public ModelNotFound(String model) {
    super("The model `" + model + "` does not exist or you do not have access to it.", null);
  }
}
