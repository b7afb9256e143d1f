// What `skewless --help` and `skewless <command> --help` print.

export const COMMANDS = ['demo', 'local', 'plan', 'backfill', 'training-set', 'audit', 'lineage'] as const;
export type Command = (typeof COMMANDS)[number];

export const HELP = `skewless — one definition of a feature, the same value online and offline

Usage: skewless <command> [options]        skewless <command> --help for its options and examples

Commands:
  demo          the whole idea on your laptop: backfill 30 days, stream a spike through shards and the
                Lambda handler, build a point-in-time training set, audit online against offline
  local         start the local stack: SageMaker Feature Store, Athena, S3 and SQS on 127.0.0.1
  plan          CreateFeatureGroup input (or CloudFormation) and IAM policies for a definitions file
  backfill      run history files through a group's pipeline into the local offline (and online) store
  training-set  a point-in-time training set from a spine (labels) file and the local offline store
  audit         how far a group's online and offline stores agree, per feature, with causes
  lineage       which fingerprints (versions of the code) wrote a group's records, online and offline

Every command:
  --help        show the command's help
  --version     print skewless's version (also -v)
  --verbose     on failure, print the full error (code, position, issues, cause)
  --json        print the result as JSON, where the result is data

A definitions file is a built JavaScript module (e.g. dist/features.js) exporting feature groups.

Exit codes: 0 success, 1 the command failed (one line on stderr, and a hint), 2 bad usage.`;

const COMMAND_HELP: Record<Command, string> = {
  demo: `Usage: skewless demo [--dir PATH] [--json]
       skewless demo --spike [--rate 2000/s] [--dir PATH] [--json]

Runs the main job on the embedded stores, no AWS account: the fraud-detection group (row features and
velocity aggregates) is backfilled over 30 days of synthetic history, a quiet hour and a spike of live
transactions go through two Kinesis-style shards and kinesisHandler, with poison records to an SQS
dead-letter queue on the local AWS stack (a file when @aws-sdk/client-sqs is not installed),
chargeback labels are joined point-in-time into a Parquet training set, and the audit checks online
against offline. Needs @duckdb/node-api (the embedded stores).

With --spike, 30 seconds in real time instead: transactions at 10/s, then --rate for 15 s (two hot
cards among them), then 10/s, through the event source mapping plan --rate prescribes for that rate
(shards, BatchSize, batching window, ParallelizationFactor) and kinesisHandler into the embedded
stores, with per phase records/s, CPU per record, iterator age and freshness (event time to readable
online, polled for sampled cards), and the records lost (none).

Options:
  --dir PATH    where the demo keeps its stores and files (default .skewless/demo, with --spike
                .skewless/demo-spike): a new or empty folder, or one an earlier demo made, whose
                files it replaces; any other is refused
  --json        print the summary as JSON (progress still goes to stderr)
  --spike       the spike in real time (above)
  --rate RATE   the spike's rate with its unit, such as 2000/s (default 2000/s)

Examples:
  npx skewless demo
  npx skewless demo --json > summary.json
  npx skewless demo --spike --rate 5000/s`,

  local: `Usage: skewless local [--port N] [--dir PATH | --memory]

Starts one HTTP endpoint on 127.0.0.1 that speaks SageMaker Feature Store (runtime and control plane),
Athena (Trino SQL run on DuckDB), S3 and SQS, and prints the environment variables that point unchanged
AWS SDK code at it. Stops on Ctrl-C.

Options:
  --port N      port on 127.0.0.1 (default 4599; 0 picks a free one)
  --dir PATH    where state is kept across restarts (default .skewless)
  --memory      keep state in a temporary directory, removed on exit

Examples:
  npx skewless local
  npx skewless local --port 0 --memory`,

  plan: `Usage: skewless plan <definitions file> [options]

Prints, per feature group, the CreateFeatureGroup input (or a CloudFormation resource) and least-privilege
IAM policies for the ingestion Lambda and for training; with --diff, compares with the deployed group.
With --rate, also what a stream of that many records takes: Kinesis shards, the event source mapping
(batch size, batching window, ParallelizationFactor), Lambda memory and concurrency, SageMaker throughput
mode and units, the DynamoDB state table (groups with aggregations), the freshness to expect and the
hottest identifier's ceiling, from the services' limits and the benchmarks' per-core figures, with every
assumption listed; with --format cloudformation, the stream and the event source mapping as resources.

Options:
  --group NAME                  only this feature group
  --role-arn ARN                the role SageMaker uses to write the offline store
  --offline-s3-uri URI          s3://bucket/prefix of the offline store
  --athena-results-s3-uri URI   where training's Athena queries write results
  --state-table NAME            the DynamoDB table of aggregation state (default skewless-state)
  --format input|cloudformation the request, or an AWS::SageMaker::FeatureGroup resource
  --diff                        compare with DescribeFeatureGroup (in --region, else AWS_REGION); exit 1 on a breaking change
  --region R --account-id N     fill the ARNs of the IAM policies (default CloudFormation's pseudo parameters); --region is also --diff's
  --rate N/s | N/min            the target rate, with its unit (10000/s, 10_000/s, 600/min; a bare number is refused)
  --record-bytes N              with --rate: one event's bytes on the stream, measured (default: from the source schema)
  --entity-events N             with --rate: events one entity has in its longest window, for the state item (default 1)
  --json                        print JSON only

Examples:
  npx skewless plan dist/features.js --offline-s3-uri s3://my-bucket/features --role-arn arn:aws:iam::123456789012:role/fs
  npx skewless plan dist/features.js --group card-activity --format cloudformation
  npx skewless plan dist/features.js --group card-activity --diff
  npx skewless plan dist/features.js --group card-activity --rate 10000/s --record-bytes 300
  npx skewless plan dist/features.js --group card-activity --rate 10000/s --format cloudformation --json`,

  backfill: `Usage: skewless backfill <definitions file> <group> --from FILE [--from FILE ...] [options]

Runs history through the group's pipeline (the one the Lambda handlers run) into the local store.
Checkpoints are kept under <dir>/backfill/<group>/checkpoints: run the same command again after a crash
and it resumes; delete them to start over. Poison rows go to a rejects file, never stop the run.

Options:
  --from FILE                  .ndjson/.jsonl/.json (one event per line), .csv or .parquet; repeat for several files
  --to offline|online|both     where records go (default offline; online gets the latest per identifier)
  --workers N                  worker threads over shards of at least 8 MB of the input (default 1)
  --chunk-size N               rows per output file and checkpoint step (default 10,000)
  --dir PATH                   the local store (default .skewless)
  --json                       print the summary as JSON

Examples:
  npx skewless backfill dist/features.js card-activity --from history.ndjson --workers 2
  npx skewless backfill dist/features.js card-activity --from 2024-05.csv --from 2024-06.csv --to both --json`,

  'training-set': `Usage: skewless training-set <definitions file> --spine FILE --features GROUP:F1,F2 --out FILE [options]

Joins each spine (label) row with the chosen features as of its time — never later; ties, deletes and
max age by the rule in the README — from the local offline store, and writes one row per spine row.

Options:
  --spine FILE       labels as .csv or .parquet (every column kept)
  --features G:F,F   a group and its features; repeat for several groups
  --out FILE         .parquet or .csv
  --entity-key C     the spine column every group's record identifier is read from (default: each
                     group's own, the column named as its recordIdentifier)
  --timestamp C      the spine column with each row's time (default label_time)
  --max-age D        ignore feature rows older than D (30d, 12h, 15m)
  --exclusive        a feature row at exactly the label time does not count
  --knowledge-time   also require write_time <= label time
  --dir PATH         the local store (default .skewless)
  --json             print the summary as JSON

Examples:
  npx skewless training-set dist/features.js --spine labels.csv --features card-activity:amount,txn_count_1h --out train.parquet
  npx skewless training-set dist/features.js --spine labels.parquet --features card-activity:amount --max-age 30d --out train.csv --json`,

  audit: `Usage: skewless audit <definitions file> <group> [options]

Reads a sample of identifiers online, takes the offline value each should have after the availability
delay, compares every feature and names a cause for each difference (fingerprint, offline-lag,
ttl-expired, delete-pending, late-events, unexplained).

Options:
  --sample N                identifiers to audit (default 1,000)
  --seed N                  which sample (default 1)
  --at TIME                 the moment audited, ISO-8601 (default now)
  --availability-delay D    how long offline rows take to appear (default 0s: the embedded store reads back at once)
  --tolerance X             numbers closer than X count as equal (default 0)
  --html FILE               also write the report as a self-contained HTML page
  --dir PATH                the local store (default .skewless)
  --json                    print the report as JSON

Examples:
  npx skewless audit dist/features.js card-activity --sample 500 --html audit.html
  npx skewless audit dist/features.js card-activity --json`,

  lineage: `Usage: skewless lineage <definitions file> <group> [--sample N] [--dir PATH] [--json]

Lists the fingerprints (versions of the code) that wrote the group's records: offline every row but
delete markers (they carry no fingerprint), with event and write time ranges; online a sample of
identifiers (online stores cannot be listed).

Options:
  --sample N    identifiers read online (default 1,000)
  --dir PATH    the local store (default .skewless)
  --json        print the report as JSON

Examples:
  npx skewless lineage dist/features.js card-activity`,
};

/** The help of one command, or the overview. */
export function helpText(command: string | undefined): string {
  return command !== undefined && (COMMANDS as readonly string[]).includes(command) ? COMMAND_HELP[command as Command] : HELP;
}
