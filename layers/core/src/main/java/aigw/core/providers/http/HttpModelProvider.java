package aigw.core.providers.http;

import aigw.core.config.Deployment;
import aigw.core.errors.UpstreamFailed;
import aigw.core.errors.UpstreamUnreachable;
import aigw.core.providers.ModelProvider;
import aigw.core.providers.ProviderAnswer;
import aigw.core.providers.ProviderRequest;
import aigw.core.providers.ProviderStream;
import aigw.core.providers.StreamChunk;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.List;

/**
 * A provider whose API is plain HTTP(S) with Server-Sent Events for streams: its {@link
 * HttpApiTranslator} over the shared {@link UpstreamHttp}. Anthropic and Gemini plug in here with
 * their translators; a provider reached through an SDK (Bedrock's {@code bedrockruntime}) implements
 * {@link ModelProvider} itself.
 */
public class HttpModelProvider implements ModelProvider {
  private final HttpApiTranslator translator;
  private final UpstreamHttp transport;

  public HttpModelProvider(HttpApiTranslator translator, UpstreamHttp transport) {
    this.translator = translator;
    this.transport = transport;
  }

  /**
   * Every failure leaving here or a stream's {@code next()} has the call's credentials masked
   * ({@link UpstreamHttp#masked(RuntimeException, List)}): whatever string of the provider's answer
   * it carries (an error's fields, a header quoted in a message), the client never sees the key.
   * Every answer's bytes are masked the same way before its translator reads them (the whole body,
   * each stream event): whatever a translator passes through or builds, for every operation, comes
   * from masked bytes, so no success path can forward the key either (issue 15, finding 7).
   */
  @Override
  public ProviderAnswer answer(Deployment deployment, ProviderRequest request) {
    UpstreamCall call = translator.request(deployment, request);
    try {
      return answer(deployment, request, call);
    } catch (RuntimeException e) {
      throw UpstreamHttp.masked(e, call.secrets());
    }
  }

  private ProviderAnswer answer(Deployment deployment, ProviderRequest request, UpstreamCall call) {
    if (!request.stream()) {
      UpstreamHttp.Reply reply = transport.exchange(call);
      if (!reply.ok()) {
        throw UpstreamHttp.masked(translator.error(deployment, reply.status(), reply.headers(), reply.body()), call.secrets());
      }
      return translator.response(deployment, request, UpstreamHttp.mask(reply.body(), call.secrets()));
    }
    UpstreamHttp.OpenReply reply = transport.open(call);
    if (!reply.ok()) {
      byte[] body = reply.readErrorBody();
      throw UpstreamHttp.masked(translator.error(deployment, reply.status(), reply.headers(), body), call.secrets());
    }
    if (isJson(reply.headers())) {
      // The provider ignored stream and answered whole: relayed as the stream the client asked for.
      byte[] whole = UpstreamHttp.mask(readWhole(call, reply), call.secrets());
      List<StreamChunk> chunks;
      try {
        chunks = translator.chunksOf(deployment, request, whole);
      } catch (UpstreamFailed reported) {
        throw UpstreamHttp.masked(reported, call.secrets());
      }
      return new WholeAnswerAsStream(chunks);
    }
    return new EventStream(call, reply, translator.stream(deployment, request));
  }

  private static final byte[] FINISH_REASON = "\"finish_reason\"".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

  /**
   * Whether a chunk in OpenAI's shape (every translation's, but Anthropic's passed-through events and
   * the Responses API's, whose usage comes in the same event as their end) has a {@code
   * finish_reason} that is a non-empty string, not null: the provider has finished generating that choice.
   * A byte search, not a parse (every chunk goes through here): inside a JSON string a quote is
   * escaped, so {@code "finish_reason"} with its quotes bare is a member name. With {@code n} above 1
   * the first choice to finish counts; the others then have {@link UpstreamHttp#DEPARTED_GRACE} to
   * finish if the client leaves.
   */
  static boolean hasFinishReason(byte[] json) {
    int last = json.length - FINISH_REASON.length;
    for (int i = 0; i <= last; i++) {
      if (json[i] == '"' && java.util.Arrays.equals(json, i, i + FINISH_REASON.length, FINISH_REASON, 0, FINISH_REASON.length)) {
        int at = skipSpace(json, i + FINISH_REASON.length);
        if (at < json.length && json[at] == ':') {
          at = skipSpace(json, at + 1);
          // A string, and not the empty one: Ollama and SGLang send "finish_reason":"" in every
          // content chunk (ollama/ollama#4357, sgl-project/sglang#3912), mid-generation.
          if (at + 1 < json.length && json[at] == '"' && json[at + 1] != '"') {
            return true;
          }
        }
      }
    }
    return false;
  }

  private static int skipSpace(byte[] json, int at) {
    while (at < json.length && (json[at] == ' ' || json[at] == '\t' || json[at] == '\n' || json[at] == '\r')) {
      at++;
    }
    return at;
  }

  /** A JSON media type ({@code application/json}, {@code application/problem+json}...), not an event stream. */
  static boolean isJson(java.net.http.HttpHeaders headers) {
    String type = headers.firstValue("content-type").orElse("").toLowerCase(java.util.Locale.ROOT);
    int semicolon = type.indexOf(';');
    String media = (semicolon < 0 ? type : type.substring(0, semicolon)).strip();
    return media.equals("application/json") || (media.startsWith("application/") && media.endsWith("+json"));
  }

  /** Whether a Content-Type value names an event stream ({@code text/event-stream}, with or without parameters). */
  static boolean isEventStream(String contentType) {
    return contentType.toLowerCase(java.util.Locale.ROOT).strip().startsWith("text/event-stream");
  }

  /** A whole body, bounded like one event ({@link ServerSentEvents#MAX_EVENT_BYTES}): it becomes chunks. */
  private static byte[] readWhole(UpstreamCall call, UpstreamHttp.OpenReply reply) {
    try (reply) {
      byte[] body = AnswerBudget.read(reply.body(), ServerSentEvents.MAX_EVENT_BYTES,
          "the provider of '" + call.modelName() + "' at " + UpstreamHttp.hostAndPort(call.uri()));
      if (body.length > ServerSentEvents.MAX_EVENT_BYTES) {
        throw new ServerSentEvents.TooLarge("a JSON answer of more than " + ServerSentEvents.MAX_EVENT_BYTES + " bytes to a stream request");
      }
      return body;
    } catch (IOException e) {
      throw UpstreamHttp.midStream(call, e, true, reply.bytesRead());
    }
  }

  /** A whole answer's chunks, already read: nothing to wait for, nothing left open. */
  private static final class WholeAnswerAsStream implements ProviderStream {
    private final ArrayDeque<StreamChunk> chunks;

    WholeAnswerAsStream(List<StreamChunk> chunks) {
      this.chunks = new ArrayDeque<>(chunks);
    }

    @Override
    public StreamChunk next() {
      return chunks.poll();
    }

    /** All of it is in hand: the provider generated it whole, and reading the rest waits for nothing. */
    @Override
    public boolean generationFinished() {
      return true;
    }

    @Override
    public boolean nextInHand() {
      return true; // all of it is read
    }

    @Override
    public void close() {
      chunks.clear();
    }
  }

  /** A streamed answer: the provider's events read one by one, translated to OpenAI chunks. */
  private static final class EventStream implements ProviderStream {
    private final UpstreamCall call;
    private final UpstreamHttp.OpenReply reply;
    private final ServerSentEvents events;
    private final StreamTranslation translation;
    private final ArrayDeque<StreamChunk> pending = new ArrayDeque<>();
    private boolean anyChunk; // a chunk was returned: from then on the client has part of the answer
    private boolean generationFinished;

    EventStream(UpstreamCall call, UpstreamHttp.OpenReply reply, StreamTranslation translation) {
      this.call = call;
      this.reply = reply;
      this.events = new ServerSentEvents(reply.body());
      this.translation = translation;
    }

    @Override
    public StreamChunk next() {
      try {
        return nextChunk();
      } catch (RuntimeException e) {
        throw UpstreamHttp.masked(e, call.secrets());
      }
    }

    /**
     * True when the next chunk, the end or a failure is in {@code pending} or can be read from
     * the bytes that have arrived: the events that have are read and translated here (never
     * waiting), so an event that makes no chunk (a keep-alive, Anthropic's {@code ping}) does not
     * make {@link #next} wait where this said it would not.
     */
    @Override
    public boolean nextInHand() {
      try {
        while (pending.isEmpty() && !translation.complete()) {
          ServerSentEvent event;
          try {
            event = events.nextIfInHand();
          } catch (IOException e) {
            close();
            throw UpstreamHttp.midStream(call, e, !anyChunk, reply.bytesRead());
          }
          if (event == null) {
            return false; // not all of it has arrived, or the body ended: next() waits, or tells which
          }
          translate(event);
        }
        return true;
      } catch (RuntimeException e) {
        throw UpstreamHttp.masked(e, call.secrets());
      }
    }

    private StreamChunk nextChunk() {
      while (pending.isEmpty()) {
        if (translation.complete()) {
          // The answer is whole; what follows is the body's end, read and dropped so that the
          // provider's connection is kept for the next call rather than closed.
          reply.closeAtEnd();
          return null;
        }
        ServerSentEvent event;
        try {
          event = events.next();
        } catch (IOException e) {
          close();
          throw UpstreamHttp.midStream(call, e, !anyChunk, reply.bytesRead());
        }
        if (event == null) {
          close();
          String type = reply.headers().firstValue("content-type").orElse("no Content-Type");
          if (!anyChunk && !isEventStream(type)) {
            // Not a stream cut short: a whole body of another kind (an HTML error page, text).
            throw new UpstreamUnreachable(
                "The provider of '" + call.modelName() + "' answered a stream request with " + type
                    + ", neither an event stream (text/event-stream) nor JSON.",
                null, false);
          }
          // After its success status: it was generating the answer (counted with estimated tokens
          // when no chunk reached the client; a cut after the first chunk is the relay's to count).
          throw new UpstreamUnreachable(
              "The provider of '" + call.modelName() + "' ended its answer before it was complete (the connection closed "
                  + (anyChunk ? "in the middle of the stream)." : "after its response headers, before any part of its answer)."),
              null, false, true, reply.bytesRead());
        }
        translate(event);
      }
      anyChunk = true;
      StreamChunk chunk = pending.poll();
      if (!generationFinished && hasFinishReason(chunk.json())) {
        generationFinished = true;
        reply.readOnAfterClientLeaves();
      }
      return chunk;
    }

    @Override
    public boolean generationFinished() {
      return generationFinished;
    }

    private void translate(ServerSentEvent event) {
      List<StreamChunk> chunks;
      try {
        chunks = translation.onEvent(masked(event));
      } catch (UpstreamFailed reported) {
        close();
        throw UpstreamHttp.masked(reported, call.secrets());
      } catch (RuntimeException e) {
        close();
        throw e;
      }
      pending.addAll(chunks);
    }

    /** The event with the call's credentials masked: whatever a translation passes on holds no key. */
    private ServerSentEvent masked(ServerSentEvent event) {
      String name = UpstreamHttp.mask(event.event(), call.secrets());
      String data = UpstreamHttp.mask(event.data(), call.secrets());
      return name == event.event() && data == event.data() ? event : new ServerSentEvent(name, data);
    }

    @Override
    public void close() {
      reply.close();
    }
  }
}
