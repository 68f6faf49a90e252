package aigw.core.providers.bedrock;

import aigw.core.json.Json;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** Opens BedrockTranslator's Converse body to tests in other packages (AnthropicWholeNumbersTest). */
public final class BedrockWholeNumbers {
  private BedrockWholeNumbers() {}

  public static ObjectNode converse(String chat) {
    return BedrockTranslator.converseBody(Json.readObject(chat.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
  }
}
