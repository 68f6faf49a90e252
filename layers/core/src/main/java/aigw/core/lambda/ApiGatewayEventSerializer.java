package aigw.core.lambda;

import aigw.core.apigateway.ProxyRequestEvent;
import aigw.core.apigateway.ProxyResponseEvent;
import aigw.core.json.Json;
import com.amazonaws.services.lambda.runtime.CustomPojoSerializer;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.lang.reflect.Type;

/**
 * How the runtime interface client reads the API Gateway functions' events and writes their
 * answers: with the gateway's own Jackson, which the function has loaded anyway, instead of the
 * client's shaded copy (aws-lambda-java-serialization), whose ObjectMapper and bean introspection
 * were about 600 classes and a fifth of the proxy function's init on the runtime's thread.
 * Registered by the proxy and admin functions (their
 * {@code META-INF/services/com.amazonaws.services.lambda.runtime.CustomPojoSerializer}), as AWS
 * documents custom serialization: https://docs.aws.amazon.com/lambda/latest/dg/java-custom-serialization.html.
 *
 * <p>As the client's own serializer does: fields the type lacks are ignored, names match in any
 * case, the same lenient JSON is read ({@link #MAPPER}), null fields are left out of an answer, and
 * neither stream is closed here.
 */
public final class ApiGatewayEventSerializer implements CustomPojoSerializer {
  /**
   * Configured as the runtime's own (aws-lambda-java-serialization's {@code JacksonFactory}), so an
   * event it accepted is accepted here with the same meaning: a hand-written console test event or a
   * direct invoke as much as API Gateway's own. Lenient where it is: names in any case, a single
   * value for a list ({@code "multiValueHeaders":{"a":"1"}}), an empty string or list for an object,
   * single quotes, unquoted names, raw control characters in strings, NaN, leading zeros, and
   * whatever follows the event. Jackson's default bounds, not the gateway's tighter ones for
   * request bodies ({@link Json#READ_CONSTRAINTS}): the event's body is a string of it.
   */
  private static final ObjectMapper MAPPER = JsonMapper.builder(JsonFactory.builder()
          .enable(JsonReadFeature.ALLOW_SINGLE_QUOTES, JsonReadFeature.ALLOW_UNQUOTED_FIELD_NAMES,
              JsonReadFeature.ALLOW_UNESCAPED_CONTROL_CHARS, JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS,
              JsonReadFeature.ALLOW_LEADING_ZEROS_FOR_NUMBERS)
          .build())
      .enable(MapperFeature.ACCEPT_CASE_INSENSITIVE_PROPERTIES)
      .enable(DeserializationFeature.ACCEPT_SINGLE_VALUE_AS_ARRAY, DeserializationFeature.UNWRAP_SINGLE_VALUE_ARRAYS,
          DeserializationFeature.ACCEPT_EMPTY_STRING_AS_NULL_OBJECT, DeserializationFeature.ACCEPT_EMPTY_ARRAY_AS_NULL_OBJECT)
      .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .serializationInclusion(JsonInclude.Include.NON_NULL)
      .build();
  // Made when the runtime loads this class, at init: the event's deserializer and the answer's
  // serializer are built then, so a SnapStart snapshot holds them too.
  private static final ObjectReader EVENT = reader(ProxyRequestEvent.class);
  private static final ObjectWriter ANSWER = writer(ProxyResponseEvent.class);

  /**
   * Making this serializer ahead of the runtime's first use: at init the runtime interface client
   * loads it on its own thread after the handler's constructor returns (about 260 classes of
   * Jackson's bean introspection, the whole init's critical path); {@code Gateway.fromEnvironment}
   * makes it on its second init thread instead, and the JVM runs a class's initialiser once, so the
   * runtime then finds it made (or waits for the second thread to finish it). A nested class, so
   * that asking does not make it.
   */
  public static final class Ahead {
    private static volatile boolean unused;

    private Ahead() {}

    /** The streaming runtime reads its events itself: in its process this serializer is never used. */
    public static void unusedInThisProcess() {
      unused = true;
    }

    /**
     * Makes the serializer's reader and writer on the calling thread, unless {@link
     * #unusedInThisProcess()}; a failure is thrown here as the runtime would have met it.
     */
    public static void prepare() {
      if (unused) {
        return;
      }
      try {
        Class.forName(ApiGatewayEventSerializer.class.getName(), true, ApiGatewayEventSerializer.class.getClassLoader());
      } catch (ClassNotFoundException e) {
        throw new IllegalStateException(e); // this very class: cannot happen
      }
    }
  }

  /** For the runtime's ServiceLoader. */
  public ApiGatewayEventSerializer() {}

  @Override
  public <T> T fromJson(InputStream input, Type type) {
    try {
      return readerFor(type).readValue(input);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public <T> T fromJson(String input, Type type) {
    try {
      return readerFor(type).readValue(input);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public <T> void toJson(T value, OutputStream output, Type type) {
    try {
      (type == ProxyResponseEvent.class ? ANSWER : writer(type)).writeValue(output, value);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static ObjectReader readerFor(Type type) {
    return type == ProxyRequestEvent.class ? EVENT : reader(type);
  }

  private static ObjectReader reader(Type type) {
    return MAPPER.readerFor(MAPPER.constructType(type)).without(JsonParser.Feature.AUTO_CLOSE_SOURCE);
  }

  private static ObjectWriter writer(Type type) {
    return MAPPER.writerFor(MAPPER.constructType(type)).without(JsonGenerator.Feature.AUTO_CLOSE_TARGET);
  }
}
