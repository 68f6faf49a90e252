package aigw.core.aws;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeDefinition;
import software.amazon.awssdk.services.dynamodb.model.BillingMode;
import software.amazon.awssdk.services.dynamodb.model.CreateTableRequest;
import software.amazon.awssdk.services.dynamodb.model.GlobalSecondaryIndex;
import software.amazon.awssdk.services.dynamodb.model.KeySchemaElement;
import software.amazon.awssdk.services.dynamodb.model.Projection;
import software.amazon.awssdk.services.dynamodb.model.ResourceInUseException;

/**
 * Creates tables from the {@code AWS::DynamoDB::Table} resources of the same template.yaml that
 * deploys them, so the local gateway, the tests and AWS cannot drift apart.
 * CloudFormation's short-form tags (!Ref, !Sub) are ignored by the YAML reader; table definitions
 * use none.
 */
public final class TemplateTables {
  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

  private TemplateTables() {}

  /** Logical id to CreateTableRequest, for every table in the template. */
  public static Map<String, CreateTableRequest> fromTemplate(InputStream template, Map<String, String> tableNames) {
    try {
      return parse(YAML.readTree(tableResources(new String(template.readAllBytes(), StandardCharsets.UTF_8))), tableNames);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read template.yaml", e);
    }
  }

  /**
   * The template cut down to its {@code Resources} entries that may be tables: a YAML document of
   * {@code Resources:} and those entries' lines, unchanged. The tables are 2 of about 60 resources
   * (95 of 1,700 lines), and reading the whole template was a tenth of the local gateway's start-up
   * in a profile. Each resource is the block of lines from its key (the section's first indentation)
   * to the next key at that indentation or the section's end (a line at column 0); a block is kept
   * when one of its lines names {@code AWS::DynamoDB::Table}, so a table is never left out (what else
   * is kept, a comment naming it, is filtered by {@link #parse} as before). Comments and blank lines
   * go with the block before them. A template with no {@code Resources:} line is returned whole.
   */
  static String tableResources(String template) {
    String[] lines = template.split("\n", -1);
    int section = -1;
    for (int i = 0; i < lines.length; i++) {
      if (lines[i].stripTrailing().equals("Resources:")) {
        section = i;
        break;
      }
    }
    if (section < 0) {
      return template;
    }
    var kept = new StringBuilder("Resources:\n");
    int keyIndent = -1;
    var block = new StringBuilder();
    boolean table = false;
    for (int i = section + 1; i < lines.length; i++) {
      String line = lines[i];
      String content = line.strip();
      int indent = line.length() - line.stripLeading().length();
      boolean meaningful = !content.isEmpty() && !content.startsWith("#");
      if (meaningful && indent == 0) {
        break; // the next top-level section
      }
      if (meaningful && keyIndent < 0) {
        keyIndent = indent;
      }
      if (meaningful && indent == keyIndent) {
        if (table) {
          kept.append(block);
        }
        block.setLength(0);
        table = false;
      }
      block.append(line).append('\n');
      table |= content.contains("AWS::DynamoDB::Table");
    }
    if (table) {
      kept.append(block);
    }
    return kept.toString();
  }

  static Map<String, CreateTableRequest> parse(JsonNode template, Map<String, String> tableNames) {
    var tables = new LinkedHashMap<String, CreateTableRequest>();
    template
        .path("Resources")
        .fields()
        .forEachRemaining(
            resource -> {
              JsonNode definition = resource.getValue();
              if (!"AWS::DynamoDB::Table".equals(definition.path("Type").asText())) {
                return;
              }
              String logicalId = resource.getKey();
              String name = tableNames.get(logicalId);
              if (name == null) {
                throw new IllegalStateException("no local name for table " + logicalId + " of template.yaml");
              }
              tables.put(logicalId, request(name, definition.path("Properties")));
            });
    return tables;
  }

  private static CreateTableRequest request(String name, JsonNode properties) {
    var attributes = new ArrayList<AttributeDefinition>();
    properties
        .path("AttributeDefinitions")
        .forEach(
            a ->
                attributes.add(
                    AttributeDefinition.builder()
                        .attributeName(a.path("AttributeName").asText())
                        .attributeType(a.path("AttributeType").asText())
                        .build()));
    var indexes = new ArrayList<GlobalSecondaryIndex>();
    properties
        .path("GlobalSecondaryIndexes")
        .forEach(
            index ->
                indexes.add(
                    GlobalSecondaryIndex.builder()
                        .indexName(index.path("IndexName").asText())
                        .keySchema(keySchema(index.path("KeySchema")))
                        .projection(
                            Projection.builder()
                                .projectionType(index.path("Projection").path("ProjectionType").asText("ALL"))
                                .nonKeyAttributes(texts(index.path("Projection").path("NonKeyAttributes")))
                                .build())
                        .build()));
    var builder =
        CreateTableRequest.builder()
            .tableName(name)
            .attributeDefinitions(attributes)
            .keySchema(keySchema(properties.path("KeySchema")))
            .billingMode(BillingMode.PAY_PER_REQUEST);
    if (!indexes.isEmpty()) {
      builder.globalSecondaryIndexes(indexes);
    }
    return builder.build();
  }

  private static List<KeySchemaElement> keySchema(JsonNode schema) {
    var elements = new ArrayList<KeySchemaElement>();
    schema.forEach(
        k ->
            elements.add(
                KeySchemaElement.builder()
                    .attributeName(k.path("AttributeName").asText())
                    .keyType(k.path("KeyType").asText())
                    .build()));
    return elements;
  }

  private static List<String> texts(JsonNode array) {
    var list = new ArrayList<String>();
    array.forEach(n -> list.add(n.asText()));
    return list.isEmpty() ? null : list;
  }

  /** Creates each table unless it already exists (a file-backed data directory keeps them). */
  public static void createAll(DynamoDbClient dynamo, InputStream template, Map<String, String> tableNames) {
    for (CreateTableRequest request : fromTemplate(template, tableNames).values()) {
      try {
        dynamo.createTable(request);
      } catch (ResourceInUseException alreadyThere) {
        // kept from an earlier run
      }
    }
  }
}
