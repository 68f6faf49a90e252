package aigw.core.errors;

import java.util.List;

/** Thrown when a key asks for a model outside its {@code models} list (HTTP 401, as LiteLLM answers). */
public final class ModelNotAllowed extends GatewayException {
  public ModelNotAllowed(String model, List<String> allowed) {
    super(
        "key not allowed to access model. This key can only access models="
            + allowed
            + ". Tried to access "
            + model,
        "model");
  }
}
