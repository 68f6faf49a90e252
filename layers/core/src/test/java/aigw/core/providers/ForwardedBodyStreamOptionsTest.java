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
}
