package aigw.admin;

import aigw.core.errors.BadRequest;
import aigw.core.http.GatewayRequest;
import java.util.Set;

/** Reads a GET's query parameters: an unknown or unsupported one is a 400 that names it, as a body field is. */
final class QueryParams {
  private final GatewayRequest request;

  /**
   * @param accepted the parameters the route takes
   * @param notYet LiteLLM's parameters of the route that aigw does not implement yet
   * @throws BadRequest naming the first parameter that is neither
   */
  QueryParams(GatewayRequest request, Set<String> accepted, Set<String> notYet) {
    this.request = request;
    for (String name : request.query().keySet()) {
      if (notYet.contains(name)) {
        throw new BadRequest("Query parameter '" + name + "' is not supported by aigw yet.", name);
      }
      if (!accepted.contains(name)) {
        throw new BadRequest(
            "Unknown query parameter '" + name + "'. Accepted: " + String.join(", ", accepted.stream().sorted().toList()) + ".",
            name);
      }
    }
  }

  /** The parameter's value; null when absent. */
  String text(String name) {
    return request.queryParam(name);
  }

  /** A whole number from 1 to {@code max}; {@code fallback} when absent or blank. */
  int positiveInt(String name, int fallback, int max) {
    String value = request.queryParam(name);
    if (value == null || value.isBlank()) {
      return fallback;
    }
    try {
      int parsed = Integer.parseInt(value.trim());
      if (parsed < 1 || parsed > max) {
        throw new NumberFormatException();
      }
      return parsed;
    } catch (NumberFormatException e) {
      throw new BadRequest("'" + name + "' must be a whole number from 1 to " + max + ".", name);
    }
  }
}
