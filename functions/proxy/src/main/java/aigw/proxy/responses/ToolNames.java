package aigw.proxy.responses;

import aigw.core.json.Json;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.HashMap;
import java.util.Map;

/**
 * How the client's Responses tools are named as chat completions functions, and back: a function
 * tool keeps its name; a function inside a {@code namespace} tool (Codex CLI's {@code
 * multi_agent_v1}) becomes the function {@code <namespace>__<name>}, and a call of it comes back as
 * a {@code function_call} item with {@code namespace} and {@code name} apart, as OpenAI answers it;
 * a {@code custom} (freeform) tool becomes a function with one string parameter {@code input}, and a
 * call of it comes back as a {@code custom_tool_call} item whose {@code input} is that string.
 * Built from the client's request, so the way back needs no state between request and answer.
 */
public final class ToolNames {
  /** Between a namespace and its function's name in the chat function's name (chat allows [A-Za-z0-9_-]). */
  static final String SEPARATOR = "__";

  /** What a chat function name stands for in the client's tools. */
  public record Tool(String namespace, String name, boolean custom) {}

  private final Map<String, Tool> byChatName = new HashMap<>();

  private ToolNames() {}

  /** The names of {@code request}'s tools; unknown shapes are left to {@link ResponsesRequest#toChat} to refuse. */
  public static ToolNames of(JsonNode request) {
    var names = new ToolNames();
    for (JsonNode tool : request.path("tools")) {
      String type = tool.path("type").asText("");
      if (type.equals("custom") && tool.path("name").isTextual()) {
        names.byChatName.put(tool.get("name").asText(), new Tool(null, tool.get("name").asText(), true));
      } else if (type.equals("namespace") && tool.path("name").isTextual()) {
        String namespace = tool.get("name").asText();
        for (JsonNode inner : tool.path("tools")) {
          if (inner.path("name").isTextual()) {
            String name = inner.get("name").asText();
            boolean custom = inner.path("type").asText("").equals("custom");
            names.byChatName.put(chatName(namespace, name), new Tool(namespace, name, custom));
          }
        }
      }
    }
    return names;
  }

  /** The chat function name of {@code name} in {@code namespace} (null for a top-level tool). */
  static String chatName(String namespace, String name) {
    return namespace == null ? name : namespace + SEPARATOR + name;
  }

  /** What a chat function the model called stands for: a plain function unless the request said otherwise. */
  public Tool of(String chatName) {
    Tool tool = byChatName.get(chatName);
    return tool != null ? tool : new Tool(null, chatName, false);
  }

  /**
   * The item for a finished call of chat function {@code chatName}: a {@code function_call} (with
   * {@code namespace} when it has one) or a {@code custom_tool_call} whose {@code input} is the
   * {@code input} argument (the whole arguments text if the model sent no such JSON).
   */
  public ObjectNode callItem(String id, String status, String callId, String chatName, String arguments) {
    Tool tool = of(chatName);
    if (tool.custom()) {
      ObjectNode item = Json.MAPPER.createObjectNode()
          .put("id", id)
          .put("type", "custom_tool_call")
          .put("status", status)
          .put("call_id", callId)
          .put("input", customInput(arguments))
          .put("name", tool.name());
      if (tool.namespace() != null) {
        item.put("namespace", tool.namespace());
      }
      return item;
    }
    ObjectNode item = ResponseObjects.functionCall(id, status, callId, tool.name(), arguments);
    if (tool.namespace() != null) {
      item.put("namespace", tool.namespace());
    }
    return item;
  }

  private static String customInput(String arguments) {
    try {
      JsonNode parsed = Json.MAPPER.readTree(arguments);
      if (parsed != null && parsed.path("input").isTextual()) {
        return parsed.get("input").asText();
      }
    } catch (IOException notJson) {
      // a model that wrote the freeform text itself: that text is the input
    }
    return arguments;
  }
}
