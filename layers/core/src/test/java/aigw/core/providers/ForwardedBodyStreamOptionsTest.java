package aigw.core.providers;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** {@link ForwardedBody#withModelAndUsage}: usage always asked for, every other byte kept. */
class ForwardedBodyStreamOptionsTest {
  private static String forwarded(String body) {
    return new String(ForwardedBody.of(body.getBytes(StandardCharsets.UTF_8)).withModelAndUsage("up"), StandardCharsets.UTF_8);
  }

  @Test
  void aBodyWithoutStreamOptionsGetsThemAsItsLastMember() {
    assertThat(forwarded("{\"model\":\"m\",\"stream\":true,\"n\":1e400}\n"))
        .isEqualTo("{\"model\":\"up\",\"stream\":true,\"n\":1e400,\"stream_options\":{\"include_usage\":true}}\n");
  }

  @Test
  void everyStreamOptionsValueGetsIncludeUsageAndKeepsItsOtherMembers() {
    assertThat(forwarded("{\"stream_options\":{\"include_usage\":false},\"model\":\"m\",\"stream_options\":{\"x\":1}}"))
        .isEqualTo("{\"stream_options\":{\"include_usage\":true},\"model\":\"up\",\"stream_options\":{\"x\":1,\"include_usage\":true}}");
  }

  @Test
  void aNullStreamOptionsBecomesOneThatAsksForUsage() {
    assertThat(forwarded("{\"model\":\"m\",\"stream_options\":null}")).isEqualTo("{\"model\":\"up\",\"stream_options\":{\"include_usage\":true}}");
  }

  @Test
  void withoutAStreamTheBodyIsUntouched() {
    String body = "{\"model\":\"m\",\"stream_options\":{\"include_usage\":false}}";
    assertThat(new String(ForwardedBody.of(body.getBytes(StandardCharsets.UTF_8)).withModel("up"), StandardCharsets.UTF_8))
        .isEqualTo("{\"model\":\"up\",\"stream_options\":{\"include_usage\":false}}");
  }

  private static String withoutStreamOptions(String body) {
    return new String(ForwardedBody.of(body.getBytes(StandardCharsets.UTF_8)).withModelWithoutStreamOptions("up"), StandardCharsets.UTF_8);
  }

  @Test
  void forAProviderThatRefusesThemEveryStreamOptionsMemberIsTakenOutWhereverItIsAndTheRestStaysJson() throws Exception {
    String[][] cases = {
      {"{\"model\":\"m\", \"stream\":true,\"stream_options\":{\"include_usage\":true},\"n\":1e400}", "{\"model\":\"up\", \"stream\":true,\"n\":1e400}"},
      {"{\"stream_options\":{\"include_usage\":true}, \"model\":\"m\",\"stream\":true}\n", "{\"model\":\"up\",\"stream\":true}\n"},
      {"{ \"stream_options\":null,\"stream_options\":{},\"model\":\"m\",\"stream_options\":1,\"stream_options\":[] }", "{ \"model\":\"up\"}"},
      {"{\"model\":\"m\",\"model\":\"n\",\"stream_options\":{},\"x\":\"stream_options\"}", "{\"model\":\"up\",\"model\":\"up\",\"x\":\"stream_options\"}"},
      {"{\"model\":\"m\",\"stream\":true}", "{\"model\":\"up\",\"stream\":true}"},
    };
    for (String[] c : cases) {
      String out = withoutStreamOptions(c[0]);
      assertThat(out).as(c[0]).isEqualTo(c[1]);
      assertThat(aigw.core.json.Json.MAPPER.readTree(out).has("stream_options")).isFalse();
    }
  }
}
