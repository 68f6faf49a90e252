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

  @Override
  public ProviderAnswer answer(Deployment deployment, ProviderRequest request) {
    UpstreamCall call = translator.request(deployment, request);
    if (!request.stream()) {
      UpstreamHttp.Reply reply = transport.exchange(call);
      if (!reply.ok()) {
        throw UpstreamHttp.masked(translator.error(deployment, reply.status(), reply.headers(), reply.body()), call.secrets());
      }
      return translator.response(deployment, request, reply.body());
    }
    UpstreamHttp.OpenReply reply = transport.open(call);
    if (!reply.ok()) {
      byte[] body = reply.readErrorBody();
      throw UpstreamHttp.masked(translator.error(deployment, reply.status(), reply.headers(), body), call.secrets());
    }
    return new EventStream(call, reply, translator.stream(deployment, request));
  }

  /** A streamed answer: the provider's events read one by one, translated to OpenAI chunks. */
  private static final class EventStream implements ProviderStream {
    private final UpstreamCall call;
    private final UpstreamHttp.OpenReply reply;
    private final ServerSentEvents events;
    private final StreamTranslation translation;
    private final ArrayDeque<StreamChunk> pending = new ArrayDeque<>();

    EventStream(UpstreamCall call, UpstreamHttp.OpenReply reply, StreamTranslation translation) {
      this.call = call;
      this.reply = reply;
      this.events = new ServerSentEvents(reply.body());
      this.translation = translation;
    }

    @Override
    public StreamChunk next() {
      while (pending.isEmpty()) {
        if (translation.complete()) {
          close(); // the answer is whole; whatever follows is not read
          return null;
        }
        ServerSentEvent event;
        try {
          event = events.next();
        } catch (IOException e) {
          close();
          throw UpstreamHttp.midStream(call, e);
        }
        if (event == null) {
          close();
          throw new UpstreamUnreachable(
              "The provider of '" + call.modelName() + "' ended its answer before it was complete (the connection closed in the middle of the stream).",
              null, false);
        }
        List<StreamChunk> chunks;
        try {
          chunks = translation.onEvent(event);
        } catch (UpstreamFailed reported) {
          close();
          throw UpstreamHttp.masked(reported, call.secrets());
        } catch (RuntimeException e) {
          close();
          throw e;
        }
        pending.addAll(chunks);
      }
      return pending.poll();
    }

    @Override
    public void close() {
      reply.close();
    }
  }
}
