"""Transforms template.yaml with AWS SAM's own translator (aws-sam-translator, the library `sam deploy`'s
CloudFormation transform and cfn-lint run), offline, and prints the CloudFormation template as JSON.

Input, one JSON object on stdin:
  {"template": "<path>",
   "artifacts": {"<LogicalId>": "s3://bucket/key", ...},   # what `sam package` puts in CodeUri/ContentUri
   "parameters": {"<Name>": "<value>", ...}}                 # parameter overrides (defaults otherwise)
Every CodeUri/ContentUri not named in "artifacts" gets s3://aigw-artifacts/<its local path>, so the
output depends only on the inputs.

Exit status 3 and a line on stderr when samtranslator is not installed (the caller decides whether
that may be skipped); 1 with the translator's message when the template does not transform.
Used by local/src/test/java/aigw/local/TransformedTemplateTest.java.
"""
import json
import os
import sys

try:
    from samtranslator.public.exceptions import InvalidDocumentException
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse
    import samtranslator
except ImportError as e:  # pragma: no cover - reported to the Java test
    print(f"samtranslator is not installed for {sys.executable}: {e}", file=sys.stderr)
    sys.exit(3)


class NoManagedPolicies:
    """The template names managed policies by ARN only; a name would need IAM, which is not reachable."""

    def load(self):
        return {}


def main():
    request = json.load(sys.stdin)
    with open(request["template"], encoding="utf-8") as f:
        template = yaml_parse(f.read())
    artifacts = request.get("artifacts", {})
    for logical_id, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        for uri in ("CodeUri", "ContentUri"):
            if uri in properties and isinstance(properties[uri], str) and not properties[uri].startswith("s3://"):
                properties[uri] = artifacts.get(logical_id, "s3://aigw-artifacts/" + properties[uri])
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    parameters = dict(request.get("parameters", {}))
    # Pseudo parameters, as CloudFormation passes them to the transform.
    parameters.setdefault("AWS::Region", os.environ["AWS_DEFAULT_REGION"])
    parameters.setdefault("AWS::AccountId", "123456789012")
    parameters.setdefault("AWS::Partition", "aws")
    parameters.setdefault("AWS::StackName", "aigw")
    try:
        output = transform(template, parameters, NoManagedPolicies())
    except InvalidDocumentException as e:
        print("SAM transform failed: " + "; ".join(str(cause) for cause in e.causes), file=sys.stderr)
        sys.exit(1)
    json.dump({"samtranslator": samtranslator.__version__, "template": output}, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
