package aigw.core.providers.bedrock;

import aigw.core.config.Deployment;
import aigw.core.errors.GatewayException;
import aigw.core.errors.ServiceUnavailable;
import aigw.core.errors.UpstreamFailed;
import aigw.core.errors.UpstreamUnreachable;
import aigw.core.providers.ModelProvider;
import aigw.core.providers.ProviderAnswer;
import aigw.core.providers.ProviderRequest;
import aigw.core.providers.ProviderStream;
import aigw.core.providers.StreamChunk;
import aigw.core.providers.anthropic.AnthropicTranslator;
import aigw.core.providers.http.UpstreamCall;
import aigw.core.providers.http.UpstreamHttp;
import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpHeaders;
import java.util.ArrayDeque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import software.amazon.awssdk.auth.credentials.AwsCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.AwsSessionCredentials;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.http.ContentStreamProvider;
import software.amazon.awssdk.http.SdkHttpMethod;
import software.amazon.awssdk.http.SdkHttpRequest;
import software.amazon.awssdk.http.auth.aws.signer.AwsV4HttpSigner;
import software.amazon.awssdk.http.auth.spi.signer.SignedRequest;
import software.amazon.eventstream.HeaderValue;
import software.amazon.eventstream.Message;
import software.amazon.eventstream.MessageDecoder;

/**
 * Amazon Bedrock's Converse and ConverseStream for {@code bedrock/<model id>} deployments (and, for
 * Anthropic's Messages API on Claude models, InvokeModel, InvokeModelWithResponseStream and
 * CountTokens: {@link BedrockClaudeMessages}), over the
 * gateway's own HTTP transport ({@link UpstreamHttp}: timeouts, connect-versus-sent, redirects
 * refused) instead of the AWS SDK's {@code bedrockruntime} client: that client's ConverseStream
 * exists only on the async client, which needs Netty or the CRT's native HTTP client, megabytes the
 * Lambda layer cannot afford. What the SDK does that matters is reused from jars the layer already
 * holds: the SigV4 signer ({@code http-auth-aws}'s {@link AwsV4HttpSigner}, service {@code
 * bedrock}), the default credentials chain, and the event stream decoder ({@code
 * software.amazon.eventstream}).
 *
 * <p>Credentials are resolved at each call from the provider given (by default the SDK's {@link
 * DefaultCredentialsProvider}, which resolves nothing until asked and caches and refreshes what it
 * found). On Lambda they are the function role's; under SnapStart the Java runtime serves them from
 * the container credentials endpoint, so a restored snapshot gets fresh ones rather than any
 * resolved before the snapshot.
 */
public final class BedrockConverseProvider implements ModelProvider {
  /** The service name Bedrock Runtime signs for ({@code signingName} in its API model), not its endpoint prefix. */
  static final String SIGNING_NAME = "bedrock";

  /** Headers the JDK HttpClient sets itself and refuses from callers; the signature covers its own values of them. */
  /** The most bytes one event stream message may take (8 MiB, as one Server-Sent Event); Bedrock's are a few hundred. */
  static final int MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

  private static final Set<String> RESTRICTED = Set.of("host", "content-length", "connection", "expect", "upgrade");

  private final BedrockTranslator translator;
  private final BedrockClaudeMessages claudeMessages = new BedrockClaudeMessages();
  private final UpstreamHttp transport;
  private final AwsCredentialsProvider credentials;
  private final AwsV4HttpSigner signer = AwsV4HttpSigner.create();

  /** The function's (or the developer's) AWS credentials, from the SDK's default chain. */
  public BedrockConverseProvider(UpstreamHttp transport) {
    this(new BedrockTranslator(), transport, DefaultCredentialsProvider.builder().build());
  }

  /** @param credentials where each call's credentials come from (static ones in tests) */
  public BedrockConverseProvider(BedrockTranslator translator, UpstreamHttp transport, AwsCredentialsProvider credentials) {
    this.translator = translator;
    this.transport = transport;
    this.credentials = credentials;
  }

  /**
   * Chat completions through Converse/ConverseStream; Anthropic's Messages API ({@code /v1/messages}
   * and its token count, which reach only Claude deployments: {@link BedrockClaudeMessages#servesClaude})
   * through InvokeModel/InvokeModelWithResponseStream and CountTokens, passed through. Both ways share
   * the signing, Bedrock's errors and the event stream reader.
   */
  @Override
  public ProviderAnswer answer(Deployment deployment, ProviderRequest request) {
    boolean claude = AnthropicTranslator.isNative(request.operation());
    UpstreamCall call = signed(deployment, claude ? claudeMessages.request(deployment, request) : translator.request(deployment, request));
    // Whatever Bedrock answers is read with the call's AWS credentials masked (the one masking place,
    // UpstreamHttp.mask): the bytes before they are translated or passed through, every failure's
    // strings; a stream's events one by one (BedrockEventStream).
    try {
      return answer(deployment, request, claude, call);
    } catch (RuntimeException e) {
      throw UpstreamHttp.masked(e, call.secrets());
    }
  }

  private ProviderAnswer answer(Deployment deployment, ProviderRequest request, boolean claude, UpstreamCall call) {
    if (!request.stream()) {
      UpstreamHttp.Reply reply = transport.exchange(call);
      byte[] body = UpstreamHttp.mask(reply.body(), call.secrets());
      if (!reply.ok()) {
        GatewayException failure = translator.error(deployment, reply.status(), reply.headers(), body);
        throw claude ? claudeMessages.failure(deployment, request, failure) : failure;
      }
      return claude
          ? claudeMessages.response(deployment, request, body)
          : translator.response(deployment, requestId(reply.headers()), body);
    }
    UpstreamHttp.OpenReply reply = transport.open(call);
    if (!reply.ok()) {
      throw translator.error(deployment, reply.status(), reply.headers(), UpstreamHttp.mask(reply.readErrorBody(), call.secrets()));
    }
    String type = reply.headers().firstValue("content-type").orElse("no Content-Type");
    if (!type.toLowerCase(Locale.ROOT).startsWith("application/vnd.amazon.eventstream")) {
      reply.close();
      throw new UpstreamUnreachable(
          "The provider of '" + deployment.modelName() + "' answered a stream request with " + type
              + ", not an event stream (application/vnd.amazon.eventstream).",
          null, false);
    }
    BedrockEventTranslation translation =
        claude ? claudeMessages.stream(deployment, request) : translator.stream(deployment, requestId(reply.headers()));
    return new BedrockEventStream(deployment, call, reply, translator, translation);
  }

  /**
   * {@code call} signed with AWS Signature Version 4 for {@code bedrock} in the deployment's region,
   * with the credentials as of now: {@code Authorization}, {@code X-Amz-Date}, and {@code
   * X-Amz-Security-Token} for temporary (role) credentials.
   *
   * @throws ServiceUnavailable when no credentials can be found (nothing is sent; another deployment may be tried)
   */
  UpstreamCall signed(Deployment deployment, UpstreamCall call) {
    AwsCredentials current;
    try {
      current = credentials.resolveCredentials();
    } catch (SdkClientException e) {
      throw new ServiceUnavailable(
          "The gateway has no AWS credentials to call Amazon Bedrock for model '" + deployment.modelName()
              + "'. On AWS they come from the function's IAM role; locally from the AWS environment variables or profile.",
          e);
    }
    var unsigned = SdkHttpRequest.builder().method(SdkHttpMethod.POST).uri(call.uri());
    call.headers().forEach(unsigned::putHeader);
    SignedRequest signedRequest =
        signer.sign(
            r -> r.identity(current)
                .request(unsigned.build())
                .payload(ContentStreamProvider.fromByteArrayUnsafe(call.body()))
                .putProperty(AwsV4HttpSigner.SERVICE_SIGNING_NAME, SIGNING_NAME)
                .putProperty(AwsV4HttpSigner.REGION_NAME, deployment.awsRegion()));
    var headers = new LinkedHashMap<String, String>();
    for (Map.Entry<String, List<String>> header : signedRequest.request().headers().entrySet()) {
      if (!RESTRICTED.contains(header.getKey().toLowerCase(Locale.ROOT)) && !header.getValue().isEmpty()) {
        headers.put(header.getKey(), String.join(",", header.getValue()));
      }
    }
    // The credentials that signed are what an answer must never carry back to a client.
    var credentials = new java.util.ArrayList<String>(List.of(current.accessKeyId(), current.secretAccessKey()));
    if (current instanceof AwsSessionCredentials session) {
      credentials.add(session.sessionToken());
    }
    return call.withHeaders(headers).withSecrets(credentials);
  }

  /** Bedrock's {@code x-amzn-RequestId}, or a fresh id when a stand-in sends none. */
  private static String requestId(HttpHeaders headers) {
    return headers.firstValue("x-amzn-requestid").orElseGet(() -> UUID.randomUUID().toString());
  }

  /**
   * A ConverseStream or InvokeModelWithResponseStream answer: {@code application/vnd.amazon.eventstream}
   * messages (prelude, headers, JSON payload, CRCs) decoded by the SDK's own {@link MessageDecoder}
   * and translated one by one.
   * One message may hold at most {@link #MAX_MESSAGE_BYTES}, the bound a Server-Sent Event has
   * ({@code ServerSentEvents}): bytes that complete no message beyond it end the stream.
   */
  private static final class BedrockEventStream implements ProviderStream {
    private final Deployment deployment;
    private final UpstreamCall call;
    private final UpstreamHttp.OpenReply reply;
    private final BedrockTranslator translator;
    private final BedrockEventTranslation translation;
    private final InputStream body;
    private final MessageDecoder decoder = new MessageDecoder();
    private final ArrayDeque<StreamChunk> pending = new ArrayDeque<>();
    private final byte[] buffer = new byte[8192];
    private long undecodedBytes; // fed since the last whole message
    private boolean anyChunk; // a chunk was returned: from then on the client has part of the answer
    // A failure decoded in the same read as events before it: thrown once those events are returned,
    // so the client gets what the model generated and the call is judged as failing mid-stream
    // (never sent again), whichever way TCP happened to split the bytes.
    private GatewayException failureAfterPending;

    BedrockEventStream(
        Deployment deployment, UpstreamCall call, UpstreamHttp.OpenReply reply, BedrockTranslator translator,
        BedrockEventTranslation translation) {
      this.deployment = deployment;
      this.call = call;
      this.reply = reply;
      this.translator = translator;
      this.translation = translation;
      this.body = reply.body();
    }

    @Override
    public StreamChunk next() {
      try {
        while (pending.isEmpty()) {
          if (failureAfterPending != null) {
            throw failureAfterPending;
          }
          if (translation.complete()) {
            close(); // the answer is whole; whatever follows is not read
            return null;
          }
          int read;
          try {
            read = body.read(buffer);
          } catch (IOException e) {
            throw UpstreamHttp.midStream(call, e, !anyChunk, reply.bytesRead());
          }
          if (read < 0) {
            if (translation.stopped()) {
              close(); // messageStop came, only the usage (metadata) did not: the answer itself is whole
              return null;
            }
            throw new UpstreamUnreachable( // after its success status: it was generating (UpstreamUnreachable.afterSuccessStatus)
                "The provider of '" + call.modelName() + "' ended its answer before it was complete (the connection closed "
                    + (anyChunk ? "in the middle of the stream)." : "after its response headers, before any part of its answer)."),
                null, false, true, reply.bytesRead());
          }
          decode(read);
        }
      } catch (RuntimeException e) {
        close();
        throw UpstreamHttp.masked(e, call.secrets());
      }
      anyChunk = true;
      return pending.poll();
    }

    /** Decodes the bytes that have arrived ({@code available()}: a read will not wait) until a chunk, the end or a failure is in. */
    @Override
    public boolean nextInHand() {
      try {
        while (pending.isEmpty() && failureAfterPending == null && !translation.complete()) {
          int read;
          try {
            if (body.available() <= 0) {
              return false; // next() waits for the provider, or finds the body's end
            }
            read = body.read(buffer);
          } catch (IOException e) {
            throw UpstreamHttp.midStream(call, e, !anyChunk, reply.bytesRead());
          }
          if (read < 0) {
            return false; // the end: next() tells whether the answer was whole
          }
          decode(read);
        }
        return true;
      } catch (RuntimeException e) {
        close();
        throw UpstreamHttp.masked(e, call.secrets());
      }
    }

    private void decode(int read) {
      List<Message> messages;
      try {
        decoder.feed(buffer, 0, read);
        messages = decoder.getDecodedMessages();
      } catch (IllegalArgumentException | IllegalStateException corrupt) { // a CRC or length the decoder refuses
        throw new UpstreamUnreachable(
            "The provider of '" + call.modelName() + "' sent a corrupt event stream (" + corrupt.getMessage() + ").", corrupt, false);
      }
      if (messages.isEmpty()) {
        undecodedBytes += read;
        if (undecodedBytes > MAX_MESSAGE_BYTES) {
          throw new UpstreamUnreachable(
              "The provider of '" + call.modelName() + "' at " + UpstreamHttp.hostAndPort(call.uri()) + " sent an event stream message of more than "
                  + MAX_MESSAGE_BYTES + " bytes; the stream was ended.",
              null, false);
        }
        return;
      }
      undecodedBytes = 0;
      for (Message decoded : messages) {
        // The payload is what a translation reads or passes through: masked first, like a whole answer.
        Message message = new Message(decoded.getHeaders(), UpstreamHttp.mask(decoded.getPayload(), call.secrets()));
        String kind = header(message, ":message-type");
        GatewayException failure = null;
        if ("exception".equals(kind)) {
          failure = translator.streamException(deployment, header(message, ":exception-type"), message.getPayload());
        } else if ("error".equals(kind)) {
          failure = new UpstreamFailed(
              502,
              "Amazon Bedrock failed in the middle of the answer of model '" + deployment.modelName() + "' ("
                  + header(message, ":error-code") + ": " + header(message, ":error-message") + ").",
              "upstream_error", null, null, null);
        }
        if (failure != null) {
          if (pending.isEmpty()) {
            throw failure;
          }
          failureAfterPending = failure; // the events decoded before it go out first (the field's comment)
          return;
        }
        pending.addAll(translation.onEvent(header(message, ":event-type"), message.getPayload()));
      }
    }

    private static String header(Message message, String name) {
      HeaderValue value = message.getHeaders().get(name);
      try {
        return value == null ? null : value.getString();
      } catch (RuntimeException notAString) {
        return null;
      }
    }

    @Override
    public void close() {
      reply.close();
    }
  }
}
