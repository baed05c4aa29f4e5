"""Keep infra/template.yaml in step with the PynamoDB models.

The DynamoDB tables of the template, and the roles of the app's functions (infra/roles.py), are
derived from the PynamoDB models of chalicelib/store/ (every module: models.py, audience.py,
channels.py, ...): the same schema PynamoDB sends to CreateTable on the local stack, so the
tables on AWS can never drift from the ones the tests run against.

    python -m infra.generate           rewrite the generated blocks of infra/template.yaml
    python -m infra.generate --check   exit 1 (and show a diff) when the template is stale

Everything else in the template is written by hand; the generated blocks sit between
`# >>> generated: NAME` and `# <<< generated: NAME` marker lines and are replaced whole.
"""
from __future__ import annotations

import argparse
import difflib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent / "template.yaml"
BEGIN = "# >>> generated: {name} (python -m infra.generate; do not edit by hand)"
END = "# <<< generated: {name}"

# What the app does to its tables (PynamoDB: get, batch_get, query, scan, count, save, update,
# delete, batch_write, TransactWrite with condition checks; DescribeTable for table metadata).
TABLE_ACTIONS = (
    "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem",
    "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan",
    "dynamodb:UpdateItem",
)
INDEX_ACTIONS = ("dynamodb:Query", "dynamodb:Scan")


@dataclass
class Index:
    name: str
    keys: list[tuple[str, str]]  # (attribute, HASH | RANGE)
    projection: str  # KEYS_ONLY | ALL | INCLUDE
    non_key_attributes: list[str] = field(default_factory=list)
    local: bool = False


@dataclass
class Table:
    suffix: str  # the table name without the prefix: "contacts", "contact-keys", ...
    attributes: list[tuple[str, str]]  # (attribute, S | N | B): every key attribute of table and indexes
    keys: list[tuple[str, str]]
    indexes: list[Index]
    ttl: str | None

    @property
    def logical_id(self) -> str:
        return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", self.suffix) if part) + "Table"


def models() -> list[type]:
    """Every PynamoDB model with a table, defined in a module of chalicelib.store."""
    import importlib
    import pkgutil

    from pynamodb.models import Model

    import chalicelib.store as store

    found = []
    for info in sorted(pkgutil.iter_modules(store.__path__), key=lambda info: info.name):
        module = importlib.import_module(f"{store.__name__}.{info.name}")
        for value in vars(module).values():
            if (isinstance(value, type) and issubclass(value, Model) and value is not Model
                    and value.__module__ == module.__name__
                    and getattr(getattr(value, "Meta", None), "table_name", None)):
                found.append(value)
    return found


def tables() -> list[Table]:
    """The tables of the app, from its PynamoDB models, sorted by name."""
    from pynamodb.attributes import TTLAttribute

    from chalicelib.config import settings

    prefix = settings().table_prefix  # the prefix the models' table names are built with
    found: dict[str, Table] = {}
    for model in models():
        name = model.Meta.table_name
        if not name.startswith(prefix):
            raise ValueError(f"{model.__name__}: table {name!r} does not start with the prefix {prefix!r}")
        suffix = name[len(prefix):]
        if suffix in found:
            raise ValueError(f"two models use the table {suffix!r}")
        schema = model._get_schema()  # exactly what PynamoDB sends to CreateTable
        attributes = {item["AttributeName"]: item["AttributeType"] for item in schema["attribute_definitions"]}
        indexes = []
        for kind, local in (("global_secondary_indexes", False), ("local_secondary_indexes", True)):
            for index in schema.get(kind) or []:
                for item in index.get("attribute_definitions") or []:
                    attributes.setdefault(item["AttributeName"], item["AttributeType"])
                projection = index["projection"]
                indexes.append(Index(
                    name=index["index_name"],
                    keys=_keys(index["key_schema"]),
                    projection=projection["ProjectionType"],
                    non_key_attributes=sorted(projection.get("NonKeyAttributes") or []),
                    local=local))
        ttls = [attr.attr_name for attr in model.get_attributes().values() if isinstance(attr, TTLAttribute)]
        if len(ttls) > 1:
            raise ValueError(f"{model.__name__}: DynamoDB allows one TTL attribute per table, not {ttls}")
        found[suffix] = Table(
            suffix=suffix,
            attributes=sorted(attributes.items()),
            keys=_keys(schema["key_schema"]),
            indexes=sorted(indexes, key=lambda index: index.name),
            ttl=ttls[0] if ttls else None)
    return [found[name] for name in sorted(found)]


def _keys(key_schema: list[dict]) -> list[tuple[str, str]]:
    order = {"HASH": 0, "RANGE": 1}
    return sorted(((item["AttributeName"], item["KeyType"]) for item in key_schema), key=lambda key: order[key[1]])


# -- rendering -------------------------------------------------------------------------------


def _key_lines(keys: list[tuple[str, str]], indent: str) -> list[str]:
    return [f"{indent}- {{AttributeName: {name}, KeyType: {kind}}}" for name, kind in keys]


def render_tables(items: list[Table]) -> list[str]:
    lines: list[str] = []
    for table in items:
        lines += [
            f"{table.logical_id}:",
            "  Type: AWS::DynamoDB::Table",
            "  DeletionPolicy: Retain",
            "  UpdateReplacePolicy: Retain",
            "  Properties:",
            f"    TableName: !Sub \"${{TablePrefix}}{table.suffix}\"",
            "    BillingMode: PAY_PER_REQUEST",
            "    AttributeDefinitions:",
            *[f"      - {{AttributeName: {name}, AttributeType: {kind}}}" for name, kind in table.attributes],
            "    KeySchema:",
            *_key_lines(table.keys, "      "),
        ]
        for kind, local in (("GlobalSecondaryIndexes", False), ("LocalSecondaryIndexes", True)):
            chosen = [index for index in table.indexes if index.local is local]
            if not chosen:
                continue
            lines.append(f"    {kind}:")
            for index in chosen:
                lines += [f"      - IndexName: {index.name}", "        KeySchema:",
                          *_key_lines(index.keys, "          ")]
                if index.non_key_attributes:
                    lines += ["        Projection:", f"          ProjectionType: {index.projection}",
                              f"          NonKeyAttributes: [{', '.join(index.non_key_attributes)}]"]
                else:
                    lines.append(f"        Projection: {{ProjectionType: {index.projection}}}")
        if table.ttl:
            lines.append(f"    TimeToLiveSpecification: {{AttributeName: {table.ttl}, Enabled: true}}")
        lines += [
            "    PointInTimeRecoverySpecification: {PointInTimeRecoveryEnabled: true}",
            "    Tags:",
            "      - {Key: \"parcours:stage\", Value: !Ref Stage}",
        ]
    return lines


def render_table_statements(items: list[Table]) -> list[str]:
    """The app role's DynamoDB statements: its tables, and the indexes of those that have some."""
    lines = [
        "- Sid: AppTables",
        "  Effect: Allow",
        "  Action:",
        *[f"    - {action}" for action in TABLE_ACTIONS],
        "  Resource:",
        *[f"    - !GetAtt {table.logical_id}.Arn" for table in items],
    ]
    indexed = [table for table in items if table.indexes]
    if indexed:
        lines += [
            "- Sid: AppIndexes",
            "  Effect: Allow",
            "  Action:",
            *[f"    - {action}" for action in INDEX_ACTIONS],
            "  Resource:",
            *[f"    - !Sub \"${{{table.logical_id}.Arn}}/index/*\"" for table in indexed],
        ]
    return lines


def _statement(sid: str, actions: list[str], resources: list[str], condition: list[str] | None = None) -> list[str]:
    lines = [f"- Sid: {sid}", "  Effect: Allow", "  Action:", *[f"    - {action}" for action in actions],
             "  Resource:", *[f"    - {resource}" for resource in resources]]
    if condition:
        lines += ["  Condition:", *[f"    {line}" for line in condition]]
    return lines


LOG_DELIVERY = ["logs:CreateLogDelivery", "logs:DeleteLogDelivery", "logs:DescribeLogGroups",
                "logs:DescribeResourcePolicies", "logs:GetLogDelivery", "logs:ListLogDeliveries",
                "logs:PutResourcePolicy", "logs:UpdateLogDelivery"]
ARN = "arn:${AWS::Partition}:{service}:${AWS::Region}:${AWS::AccountId}:{rest}"


def _arn(service: str, rest: str) -> str:
    return '!Sub "' + ARN.replace("{service}", service).replace("{rest}", rest) + '"'


def capability_statements(capability: str, items: list[Table]) -> list[str]:
    """The IAM statements of one capability of infra/roles.py."""
    machines = _arn("states", "stateMachine:${TablePrefix}*")
    if capability == "tables":
        return render_table_statements(items)
    if capability == "queue-send":
        return _statement("SendToAutomationQueue", ["sqs:SendMessage"], ["!GetAtt AutomationQueue.Arn"])
    if capability == "queue-consume":
        return _statement("ConsumeAutomationQueue", ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage",
                                                     "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
                          ["!GetAtt AutomationQueue.Arn"])
    if capability == "campaign-send":
        return _statement("SendToCampaignQueue", ["sqs:SendMessage"], ["!GetAtt CampaignQueue.Arn"])
    if capability == "campaign-consume":
        return _statement("ConsumeCampaignQueue", ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage",
                                                   "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
                          ["!GetAtt CampaignQueue.Arn"])
    if capability == "publish":
        return [
            *_statement("ScenarioStateMachines", [
                "states:CreateStateMachine", "states:CreateStateMachineAlias", "states:DescribeStateMachine",
                "states:ListExecutions", "states:PublishStateMachineVersion", "states:TagResource",
                "states:UpdateStateMachine", "states:UpdateStateMachineAlias"], [machines]),
            *_statement("PassStateMachineRole", ["iam:PassRole"], ["!GetAtt StateMachineRole.Arn"],
                        ["StringEquals: {\"iam:PassedToService\": states.amazonaws.com}"]),
            # a machine published with logging sets up its log delivery as the caller too; these
            # actions have no resource-level permissions
            *_statement("StateMachineLogDelivery", LOG_DELIVERY, ['"*"']),
        ]
    if capability == "start":
        return _statement("StartJourneys", ["states:StartExecution"], [machines])
    if capability == "stop":
        return _statement("StopJourneys", ["states:DescribeExecution", "states:StopExecution"],
                          [_arn("states", "execution:${TablePrefix}*")])
    if capability == "resume":
        # task tokens authorise the call: SendTask* have no resource-level permissions
        return _statement("ResumeWaits", ["states:SendTaskSuccess"], ['"*"'])
    if capability == "email":
        return [
            *_statement("SendEmail", ["ses:SendEmail", "ses:SendRawEmail"], [
                _arn("ses", "identity/${SenderEmail}"),
                '!Sub ["' + ARN.replace("{service}", "ses").replace("{rest}", "identity/${Domain}")
                + '", {Domain: !Select [1, !Split ["@", !Ref SenderEmail]]}]',
                _arn("ses", "configuration-set/${ConfigurationSet}")]),
            # an account-level list: no resource-level permissions
            *_statement("AccountSuppressionList", ["ses:GetSuppressedDestination"], ['"*"']),
        ]
    if capability == "sms":
        # Publish to a phone number and the account's opt-out list have no ARN to scope by
        return _statement("SendSms", ["sns:CheckIfPhoneNumberIsOptedOut", "sns:Publish"], ['"*"'])
    if capability == "imports":
        return [
            *_statement("ImportFiles", ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
                        ['!Sub "${ImportsBucket.Arn}/*"']),
            # HeadObject on a missing key answers 404 rather than 403
            *_statement("ListForNotFound", ["s3:ListBucket"], ["!GetAtt ImportsBucket.Arn"]),
        ]
    if capability == "feedback-failed":
        return _statement("FeedbackOnFailure", ["sqs:SendMessage"], ["!GetAtt FeedbackDeadLetterQueue.Arn"])
    if capability == "workers":
        return _statement("StartJobWorkers", ["lambda:InvokeFunction"],
                          [_arn("lambda", "function:parcours-${Stage}-audience_worker")])
    raise ValueError(f"unknown capability {capability!r}")


# Capabilities every function has, granted through a managed policy each: written once rather
# than in every role.
SHARED = {"tables": "!Ref AppTablesPolicy", "queue-send": "!Ref AppCommonPolicy"}


def render_function_roles(items: list[Table]) -> list[str]:
    """One role per function of the app (infra/roles.py): its logs, its stage's secrets, tracing, its capabilities."""
    from infra import roles

    lines: list[str] = [
        "AppTablesPolicy:",
        "  Type: AWS::IAM::ManagedPolicy",
        "  Properties:",
        "    ManagedPolicyName: !Sub \"parcours-${Stage}-tables\"",
        "    Description: The app's DynamoDB tables and their indexes, by ARN.",
        "    PolicyDocument:",
        "      Version: \"2012-10-17\"",
        "      Statement:",
        *[f"        {line}" for line in render_table_statements(items)],
        "AppCommonPolicy:",
        "  Type: AWS::IAM::ManagedPolicy",
        "  Properties:",
        "    ManagedPolicyName: !Sub \"parcours-${Stage}-common\"",
        "    Description: What every function of the app does, its stage's secrets, tracing, storing events.",
        "    PolicyDocument:",
        "      Version: \"2012-10-17\"",
        "      Statement:",
        *[f"        {line}" for line in [
            *_statement("StageSecrets", ["ssm:GetParameter"], [_arn("ssm", "parameter/parcours/${Stage}/*")]),
            # X-Ray has no resource-level permissions
            *_statement("Tracing", ["xray:PutTelemetryRecords", "xray:PutTraceSegments"], ['"*"']),
            *capability_statements("queue-send", items)]],
    ]
    for function, capabilities in roles.FUNCTIONS.items():
        statements = _statement("OwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"],
                                [_arn("logs", f"log-group:/aws/lambda/{roles.function_name(function)}:*")])
        for capability in capabilities:
            if capability not in SHARED:
                statements += capability_statements(capability, items)
        lines += [
            f"{roles.logical_id(function)}:",
            "  Type: AWS::IAM::Role",
            "  Properties:",
            f"    RoleName: !Sub \"parcours-${{Stage}}-{function}\"",
            f"    Description: The {function} function of the app ({', '.join(capabilities)}).",
            f"    ManagedPolicyArns: [{', '.join(SHARED[item] for item in capabilities if item in SHARED)}]",
            "    AssumeRolePolicyDocument:",
            "      Version: \"2012-10-17\"",
            "      Statement:",
            "        - Effect: Allow",
            "          Principal: {Service: lambda.amazonaws.com}",
            "          Action: sts:AssumeRole",
            "    Policies:",
            "      - PolicyName: least-privilege",
            "        PolicyDocument:",
            "          Version: \"2012-10-17\"",
            "          Statement:",
            *[f"            {line}" for line in statements],
            "    Tags:",
            "      - {Key: \"parcours:stage\", Value: !Ref Stage}",
        ]
    return lines


def render_role_outputs(items: list[Table]) -> list[str]:
    from infra import roles

    lines: list[str] = []
    for function in roles.FUNCTIONS:
        # no Description: the name says it, and the template must stay under CloudFormation's inline limit
        lines += [f"{roles.logical_id(function)}Arn:", f"  Value: !GetAtt {roles.logical_id(function)}.Arn"]
    return lines


BLOCKS = {"tables": render_tables, "function-roles": render_function_roles, "role-outputs": render_role_outputs}


def render(text: str, items: list[Table] | None = None) -> str:
    """`text` (the template) with every generated block rendered afresh."""
    items = tables() if items is None else items
    for name, renderer in BLOCKS.items():
        begin, end = re.escape(BEGIN.format(name=name)), re.escape(END.format(name=name))
        pattern = re.compile(rf"^(?P<indent>[ ]*){begin}\n.*?^(?P=indent){end}\n", re.MULTILINE | re.DOTALL)
        match = pattern.search(text)
        if match is None:
            raise ValueError(f"infra/template.yaml has no generated block {name!r} (markers missing)")
        indent = match.group("indent")
        body = "".join(f"{indent}{line}\n" if line else "\n" for line in renderer(items))
        block = f"{indent}{BEGIN.format(name=name)}\n{body}{indent}{END.format(name=name)}\n"
        text = text[:match.start()] + block + text[match.end():]
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.generate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 when the template is stale")
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    args = parser.parse_args(argv)
    current = args.template.read_text()
    fresh = render(current)
    if args.check:
        if fresh != current:
            sys.stdout.writelines(difflib.unified_diff(current.splitlines(True), fresh.splitlines(True),
                                                       "template.yaml (committed)", "template.yaml (generated)"))
            print("\ninfra/template.yaml is stale: run `python -m infra.generate`", file=sys.stderr)
            return 1
        return 0
    if fresh != current:
        args.template.write_text(fresh)
        print(f"updated {args.template}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
