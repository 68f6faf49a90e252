package aigw.core.providers.http;

import java.nio.charset.StandardCharsets;
import java.util.function.UnaryOperator;

/**
 * Provider credentials written with JSON escapes in an answer ({@link UpstreamHttp#mask}): a
 * search of the answer's bytes finds {@code sk-prov-...} but not <code>sk&#92;u002dprov-...</code>,
 * which every client that parses the JSON reads as the same key.
 */
final class JsonEscapedSecrets {
  private JsonEscapedSecrets() {}

  /**
   * {@code text} with every JSON string literal that spells a secret (or an AWS access key id)
   * through escapes masked by {@code maskDecoded} (the literal masking of a decoded string): JSON
   * lets any character be written <code>&#92;uXXXX</code>, and {@code /} be written {@code \/}, so
   * <code>"sk&#92;u002dprov-..."</code> is the key to every client that parses the answer, but not
   * to a search of its bytes (issue 15). Such a literal is decoded, masked as a
   * decoded string is, and written back plainly escaped; every other byte is kept. Only literals
   * with a <code>&#92;u</code>, {@code \/}, {@code \"} or {@code \\} escape are decoded: the other
   * escapes stand for control characters, which no credential holds, so a secret beside them was
   * already found by the literal search. Text without a backslash returns at once.
   *
   * @param bytesView whether {@code text} is an answer's bytes read as ISO-8859-1 (one char per
   *     byte, so that splicing keeps every other byte); then a literal is decoded as UTF-8
   */
  static String mask(String text, UnaryOperator<String> maskDecoded, boolean bytesView) {
    return mask(text, maskDecoded, bytesView, 0);
  }

  /** How deep JSON text held in a string (a tool call's {@code arguments}, itself holding escapes) is looked into. */
  private static final int MAX_NESTING = 3;

  private static String mask(String text, UnaryOperator<String> maskDecoded, boolean bytesView, int depth) {
    if (text == null || text.indexOf('\\') < 0) {
      return text;
    }
    StringBuilder out = null;
    int copied = 0;
    int quote = text.indexOf('"');
    while (quote >= 0) {
      int end = quote + 1;
      boolean decode = false;
      while (end < text.length() && text.charAt(end) != '"') {
        if (text.charAt(end) == '\\' && end + 1 < text.length()) {
          char escaped = text.charAt(end + 1);
          decode |= escaped == 'u' || escaped == '/' || escaped == '"' || escaped == '\\';
          end++;
        }
        end++;
      }
      if (end >= text.length()) {
        break; // no closing quote: not a JSON string
      }
      if (decode && end - quote - 1 >= 8) { // a literal shorter than any masked secret cannot hold one
        String raw = text.substring(quote + 1, end);
        String decoded = unescapeJson(bytesView ? new String(raw.getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8) : raw);
        String masked = decoded == null ? null : maskNested(decoded, maskDecoded, depth);
        if (masked != null && !masked.equals(decoded)) {
          String quoted = new String(com.fasterxml.jackson.core.io.JsonStringEncoder.getInstance().quoteAsString(masked));
          if (bytesView) {
            quoted = new String(quoted.getBytes(StandardCharsets.UTF_8), StandardCharsets.ISO_8859_1);
          }
          if (out == null) {
            out = new StringBuilder(text.length());
          }
          out.append(text, copied, quote + 1).append(quoted);
          copied = end;
        }
      }
      quote = text.indexOf('"', end + 1);
    }
    return out == null ? text : out.append(text, copied, text.length()).toString();
  }

  /**
   * A decoded string masked, looking also into what it may hold escaped once more: JSON text (an
   * OpenAI tool call's {@code arguments} is a string of JSON, so a secret in it arrives escaped
   * twice) or a string's escapes written out. A string whose secret is found only inside is given
   * back with the inner text masked.
   */
  private static String maskNested(String decoded, UnaryOperator<String> maskDecoded, int depth) {
    String masked = maskDecoded.apply(decoded);
    if (!masked.equals(decoded) || decoded.indexOf('\\') < 0 || depth >= MAX_NESTING) {
      return masked;
    }
    String inner = mask(decoded, maskDecoded, false, depth + 1); // JSON strings within the text
    if (!inner.equals(decoded)) {
      return inner;
    }
    String unescaped = unescapeJson(decoded); // the whole text as one string's escaped content
    if (unescaped == null) {
      return decoded;
    }
    String maskedInner = maskNested(unescaped, maskDecoded, depth + 1);
    return maskedInner.equals(unescaped) ? decoded : maskedInner;
  }

  /** The string a JSON string literal's content (between its quotes) stands for, or null when it is not valid JSON. */
  private static String unescapeJson(String content) {
    var out = new StringBuilder(content.length());
    for (int i = 0; i < content.length(); i++) {
      char c = content.charAt(i);
      if (c != '\\') {
        out.append(c);
        continue;
      }
      if (++i >= content.length()) {
        return null;
      }
      switch (content.charAt(i)) {
        case '"' -> out.append('"');
        case '\\' -> out.append('\\');
        case '/' -> out.append('/');
        case 'b' -> out.append('\b');
        case 'f' -> out.append('\f');
        case 'n' -> out.append('\n');
        case 'r' -> out.append('\r');
        case 't' -> out.append('\t');
        case 'u' -> {
          if (i + 4 >= content.length()) {
            return null;
          }
          try {
            out.append((char) Integer.parseInt(content, i + 1, i + 5, 16));
          } catch (NumberFormatException notHex) {
            return null;
          }
          i += 4;
        }
        default -> {
          return null;
        }
      }
    }
    return out.toString();
  }
}
