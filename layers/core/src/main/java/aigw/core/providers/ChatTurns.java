package aigw.core.providers;

import aigw.core.errors.BadRequest;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;

/**
 * What the translators of OpenAI's chat messages into a turn-based API (Anthropic's Messages,
 * Bedrock's Converse) share: both want strictly alternating {@code user}/{@code assistant} turns of
 * content blocks, and text where OpenAI allows a string or text parts.
 */
public final class ChatTurns {
  private ChatTurns() {}

  /**
   * Appends a turn of {@code blocks} to {@code messages} ({@code [{"role", "content": [blocks]}]}),
   * or merges them into the last turn when it has the same role (OpenAI's consecutive tool
   * messages become one user turn of tool results). Nothing is appended for no blocks.
   */
  public static void append(ArrayNode messages, String role, ArrayNode blocks) {
    if (blocks.isEmpty()) {
      return;
    }
    JsonNode last = messages.isEmpty() ? null : messages.get(messages.size() - 1);
    if (last != null && role.equals(last.get("role").asText())) {
      ((ArrayNode) last.get("content")).addAll(blocks);
      return;
    }
    ObjectNode turn = messages.addObject();
    turn.put("role", role);
    turn.set("content", blocks);
  }

  /**
   * A system or tool message's text: a string, or its text parts joined by newlines.
   *
   * @param where the message's place in the request ({@code messages[2]}), for the error
   * @throws BadRequest any other content (400, {@code param} {@code <where>.content})
   */
  public static String text(JsonNode content, String where) {
    if (content != null && content.isTextual()) {
      return content.asText();
    }
    if (content != null && content.isArray()) {
      var parts = new ArrayList<String>();
      for (JsonNode part : content) {
        if (!"text".equals(part.path("type").asText())) {
          throw new BadRequest(where + ".content may hold only text parts.", where + ".content");
        }
        parts.add(part.path("text").asText());
      }
      return String.join("\n", parts);
    }
    throw new BadRequest(where + ".content must be a string or an array of text parts.", where + ".content");
  }
}
