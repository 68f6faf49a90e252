package aigw.core.aws;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.testing.RepoFiles;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The tables read from template.yaml are those the whole template defines, however it is cut. */
class TemplateTablesTest {
  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
  private static final Map<String, String> NAMES = Map.of("KeysTable", "keys", "LogsTable", "logs");

  @Test
  void theTablesReadFromTheRealTemplateAreThoseOfTheWholeTemplateParsed() throws Exception {
    String template = Files.readString(RepoFiles.resolve("template.yaml"));
    var whole = TemplateTables.parse(YAML.readTree(template), NAMES);

    var read = TemplateTables.fromTemplate(new ByteArrayInputStream(template.getBytes(StandardCharsets.UTF_8)), NAMES);

    assertThat(whole).containsOnlyKeys("KeysTable", "LogsTable");
    assertThat(read).isEqualTo(whole);
    assertThat(read.get("LogsTable").globalSecondaryIndexes()).hasSize(2);
    // What start-up gains: only the tables' lines are parsed, not the template's 80-odd KB.
    assertThat(TemplateTables.tableResources(template).length()).isLessThan(template.length() / 10);
  }

  @Test
  void aTableIsKeptWhateverSurroundsItAndNothingElseIsRead() throws Exception {
    String template =
        """
        AWSTemplateFormatVersion: "2010-09-09"
        Resources:
          # a comment at the resources' indentation
          Function:
            Type: AWS::Serverless::Function
            Properties:
              InlineCode: |
                Type: not a key, a block scalar's text
              Description: >
                folded text
          First:
            Type: AWS::DynamoDB::Table
            Properties:
              AttributeDefinitions:
                - AttributeName: id
                  AttributeType: S
              KeySchema:
                - AttributeName: id
                  KeyType: HASH

          Queue:
            Type: AWS::SQS::Queue   # mentions no table
          Second:
            Type: "AWS::DynamoDB::Table"
            DeletionPolicy: Retain
            Properties:
              AttributeDefinitions:
                - AttributeName: pk
                  AttributeType: S
              KeySchema:
                - AttributeName: pk
                  KeyType: HASH
              DeletionProtectionEnabled: !Ref Protection
        Outputs:
          Second:
            Type: AWS::DynamoDB::Table
        """;
    var names = Map.of("First", "first", "Second", "second");

    var read = TemplateTables.fromTemplate(new ByteArrayInputStream(template.getBytes(StandardCharsets.UTF_8)), names);

    assertThat(read).isEqualTo(TemplateTables.parse(YAML.readTree(template), names));
    assertThat(read.get("Second").tableName()).isEqualTo("second");
    assertThat(TemplateTables.tableResources(template)).doesNotContain("Function", "Queue", "Outputs", "folded");
  }

  @Test
  void aTemplateWithoutResourcesIsReadWhole() {
    assertThat(TemplateTables.tableResources("Parameters:\n  A: 1\n")).isEqualTo("Parameters:\n  A: 1\n");
  }
}
