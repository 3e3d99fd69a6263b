/// The JSON Schema of pipeline files, as `skein schema` prints it.
/// Generated from `schema/pipeline.schema.json` by `scripts/generate-schema-source`;
/// a test keeps the two identical.
public enum PipelineSchema {
    public static let json = ##"""
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "Skein pipeline (format version 1)",
  "description": "A Skein pipeline file: inputs, steps that call language models, and outputs. Mirrors the checks of `skein validate`; add `# yaml-language-server: $schema=<path to this file>` at the top of a pipeline for completion and checking in editors.",
  "type": "object",
  "properties": {
    "version": {
      "description": "The pipeline format version. This Skein reads version 1.",
      "type": "integer",
      "const": 1
    },
    "name": {
      "description": "A short name for the pipeline, shown in runs and traces.",
      "type": "string"
    },
    "description": {
      "description": "What the pipeline does, for people reading it.",
      "type": "string"
    },
    "defaults": {
      "$ref": "#/$defs/defaults"
    },
    "providers": {
      "$ref": "#/$defs/providers"
    },
    "inputs": {
      "description": "The pipeline's inputs, by name; templates read them as `inputs.NAME`. An input without a `default` is required (`skein run -i NAME=value`).",
      "type": "object",
      "propertyNames": {
        "$ref": "#/$defs/identifier"
      },
      "additionalProperties": {
        "$ref": "#/$defs/input"
      }
    },
    "steps": {
      "description": "The steps, by name; templates read a step's results as `steps.NAME.output` (also `.reasoning`, `.tool_calls`, `.usage`, `.model`, `.finish_reason`, `.status`). Steps run as soon as the steps they read have finished.",
      "type": "object",
      "minProperties": 1,
      "propertyNames": {
        "$ref": "#/$defs/identifier"
      },
      "additionalProperties": {
        "$ref": "#/$defs/step"
      }
    },
    "env": {
      "description": "Environment variables templates may read as `env.NAME`; no other variables are visible to templates.",
      "type": "array",
      "items": {
        "$ref": "#/$defs/identifier",
        "description": "The name of an environment variable."
      }
    },
    "outputs": {
      "description": "The pipeline's results, by name: templates over inputs and step results, rendered when the run finishes.",
      "type": "object",
      "additionalProperties": {
        "$ref": "#/$defs/template",
        "description": "A template for this output, e.g. \"{{ steps.summarize.output }}\"."
      }
    },
    "tests": {
      "description": "Test cases for `skein test` when no --cases file is given: each {name, inputs, expect}.",
      "type": "array",
      "items": {
        "$ref": "#/$defs/testCase"
      }
    }
  },
  "patternProperties": {
    "^x-": {
      "description": "An extension key, ignored by Skein: a place for YAML anchors (`x-common: &common ...`)."
    }
  },
  "additionalProperties": false,
  "required": ["version", "steps"],
  "$defs": {
    "assertions": {
      "description": "A list of assertions, each a map of one key, e.g. [{contains: carbon}, {max_length: 600}].",
      "type": "array",
      "items": {
        "$ref": "#/$defs/assertion"
      }
    },
    "assertion": {
      "description": "One assertion: a map of one key.",
      "type": "object",
      "minProperties": 1,
      "maxProperties": 1,
      "properties": {
        "equals": { "description": "JSON equality with the output (text compares as text)." },
        "contains": { "description": "Every text occurs in the output.", "$ref": "#/$defs/texts" },
        "contains_any": { "description": "At least one of the texts occurs.", "$ref": "#/$defs/texts" },
        "not_contains": { "description": "None of the texts occurs.", "$ref": "#/$defs/texts" },
        "regex": { "description": "A pattern (ICU syntax) that must match somewhere in the output.", "type": "string" },
        "min_length": { "description": "At least this many characters.", "type": "integer", "minimum": 0 },
        "max_length": { "description": "At most this many characters.", "type": "integer", "minimum": 0 },
        "json_schema": { "description": "A JSON Schema the output (parsed when it is text) must satisfy.", "type": "object" },
        "expr": { "description": "A template expression that must be true, with `output` and `inputs` bound, e.g. \"output | length < 600\".", "type": "string" },
        "finish_reason": { "description": "The reply's finish reason is one of these (stop, length, tool_calls...).", "$ref": "#/$defs/texts" },
        "max_latency": { "description": "The step (or the run, for an output) took at most this long.", "$ref": "#/$defs/duration" },
        "max_cost": { "description": "USD at most, from the provider's `pricing:`.", "type": "number", "minimum": 0 },
        "judge": {
          "description": "Model-graded: the rubric, the case's inputs and the output go to a judge model answering {pass, score, reason}; stored and cached like any request.",
          "anyOf": [
            { "type": "string" },
            {
              "type": "object",
              "properties": {
                "rubric": { "description": "What a passing output does.", "type": "string" },
                "provider": { "description": "The judge's provider (default: the pipeline's).", "type": "string" },
                "model": { "description": "The judge's model (default: the pipeline's).", "type": "string" },
                "threshold": { "description": "The lowest score (0 to 1) that passes; without it, the judge's pass decides.", "type": "number", "minimum": 0, "maximum": 1 }
              },
              "required": ["rubric"],
              "additionalProperties": false
            }
          ]
        }
      },
      "additionalProperties": false
    },
    "texts": {
      "description": "Text, or a list of texts.",
      "anyOf": [
        { "type": ["string", "number"] },
        { "type": "array", "items": { "type": ["string", "number"] }, "minItems": 1 }
      ]
    },
    "testCase": {
      "description": "A test case: inputs, and what the outputs must satisfy.",
      "type": "object",
      "properties": {
        "name": { "description": "The case's name in the table (default: case N).", "type": "string" },
        "inputs": { "description": "The pipeline's inputs; text \"@path\" reads a file relative to the file the case is in.", "type": "object" },
        "expect": {
          "description": "By target (an output's name, or steps.NAME): an assertion or a list of them.",
          "type": "object",
          "additionalProperties": {
            "anyOf": [
              { "$ref": "#/$defs/assertion" },
              { "$ref": "#/$defs/assertions" }
            ]
          }
        }
      },
      "required": ["expect"],
      "additionalProperties": false
    },
    "identifier": {
      "description": "A name templates can use: letters, digits and underscores, not starting with a digit (templates read '-' as minus).",
      "type": "string",
      "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"
    },
    "template": {
      "description": "A template (a strict subset of Jinja: `{{ expr }}`, `{% if %}`, `{% for %}`): inline text, or `{file: path}` to read it from a file relative to the pipeline file, inside the working directory.",
      "oneOf": [
        {
          "description": "Inline template text.",
          "type": "string"
        },
        {
          "description": "A template read from a file.",
          "type": "object",
          "properties": {
            "file": {
              "description": "The template file's path, relative to the pipeline file; it must stay inside the working directory.",
              "type": "string"
            }
          },
          "required": ["file"],
          "additionalProperties": false
        }
      ]
    },
    "duration": {
      "description": "A duration of more than 0 and at most 24 hours: seconds as a number (30, 2.5) or text with a unit (500ms, 30s, 2m, 1h).",
      "oneOf": [
        {
          "description": "Seconds.",
          "type": "number",
          "exclusiveMinimum": 0,
          "maximum": 86400
        },
        {
          "description": "A number with a unit: ms, s, m or h.",
          "type": "string",
          "pattern": "^(?=.*[1-9])[0-9]+(\\.[0-9]+)?(ms|s|m|h)$"
        }
      ]
    },
    "jsonSchema": {
      "description": "A JSON Schema (draft 2020-12).",
      "type": ["object", "boolean"]
    },
    "sampling": {
      "description": "Sampling parameters, with the provider's own names; a parameter that is not set is not sent.",
      "type": "object",
      "properties": {
        "temperature": {
          "description": "Sampling temperature, 0 to 2; lower is more deterministic.",
          "type": "number",
          "minimum": 0,
          "maximum": 2
        },
        "top_p": {
          "description": "Nucleus sampling: sample from the smallest set of tokens whose probabilities add up to top_p (0 to 1).",
          "type": "number",
          "minimum": 0,
          "maximum": 1
        },
        "top_k": {
          "description": "Sample from the k most likely tokens; -1 turns it off.",
          "type": "integer",
          "minimum": -1
        },
        "min_p": {
          "description": "Drop tokens less likely than min_p times the most likely one (0 to 1).",
          "type": "number",
          "minimum": 0,
          "maximum": 1
        },
        "presence_penalty": {
          "description": "Penalty (-2 to 2) for tokens that already appeared; positive values favour new topics.",
          "type": "number",
          "minimum": -2,
          "maximum": 2
        },
        "frequency_penalty": {
          "description": "Penalty (-2 to 2) in proportion to how often a token already appeared; positive values reduce repetition.",
          "type": "number",
          "minimum": -2,
          "maximum": 2
        },
        "repetition_penalty": {
          "description": "Multiplicative repetition penalty, more than 0 and at most 2; 1 turns it off.",
          "type": "number",
          "exclusiveMinimum": 0,
          "maximum": 2
        },
        "max_tokens": {
          "description": "The most tokens to generate (at least 1). The Anthropic Messages API requires it: a step on an anthropic provider without it sends 1024.",
          "type": "integer",
          "minimum": 1
        },
        "stop": {
          "description": "Text, or a list of texts, at which generation stops.",
          "oneOf": [
            {
              "type": "string"
            },
            {
              "type": "array",
              "items": {
                "type": "string"
              }
            }
          ]
        },
        "seed": {
          "description": "A seed for providers that support reproducible sampling.",
          "type": "integer"
        }
      }
    },
    "settings": {
      "description": "Settings a step may take from `defaults:`.",
      "type": "object",
      "properties": {
        "provider": {
          "description": "The provider to call: a built-in (novita, openai, local) or a name under `providers:`.",
          "type": "string"
        },
        "model": {
          "description": "The model name, as the provider names it (e.g. meta-llama/llama-3.1-8b-instruct).",
          "type": "string"
        },
        "extra": {
          "description": "Further request-body fields, passed through as they are.",
          "type": "object"
        },
        "reasoning": {
          "description": "What to do with a reasoning model's reasoning (`reasoning_content` or `<think>...</think>`): separate puts it in `.reasoning` and the answer alone in `.output`; keep leaves the text as it came; drop discards it.",
          "enum": ["separate", "keep", "drop"],
          "default": "separate"
        },
        "retries": {
          "description": "How many times to retry a failed request that may succeed on retry (timeouts, 408, 409, 429, 5xx), 0 to 10.",
          "type": "integer",
          "minimum": 0,
          "maximum": 10
        },
        "timeout": {
          "$ref": "#/$defs/duration",
          "description": "How long a request may take: seconds (30, 2.5) or text with a unit (500ms, 30s, 2m, 1h); at most 24h."
        },
        "max_concurrency": {
          "description": "The most requests this step (or each step, under `defaults:`) sends at the same time; at least 1.",
          "type": "integer",
          "minimum": 1,
          "maximum": 100000
        },
        "cache": {
          "description": "Reuse a stored result of the exact same request; false always calls the provider.",
          "type": "boolean",
          "default": true
        }
      }
    },
    "defaults": {
      "description": "Settings that apply to every step that does not set them.",
      "type": "object",
      "properties": {
        "provider": { "$ref": "#/$defs/settings/properties/provider" },
        "model": { "$ref": "#/$defs/settings/properties/model" },
        "extra": { "$ref": "#/$defs/settings/properties/extra" },
        "reasoning": { "$ref": "#/$defs/settings/properties/reasoning" },
        "retries": { "$ref": "#/$defs/settings/properties/retries" },
        "timeout": { "$ref": "#/$defs/settings/properties/timeout" },
        "max_concurrency": { "$ref": "#/$defs/settings/properties/max_concurrency" },
        "cache": { "$ref": "#/$defs/settings/properties/cache" },
        "temperature": { "$ref": "#/$defs/sampling/properties/temperature" },
        "top_p": { "$ref": "#/$defs/sampling/properties/top_p" },
        "top_k": { "$ref": "#/$defs/sampling/properties/top_k" },
        "min_p": { "$ref": "#/$defs/sampling/properties/min_p" },
        "presence_penalty": { "$ref": "#/$defs/sampling/properties/presence_penalty" },
        "frequency_penalty": { "$ref": "#/$defs/sampling/properties/frequency_penalty" },
        "repetition_penalty": { "$ref": "#/$defs/sampling/properties/repetition_penalty" },
        "max_tokens": { "$ref": "#/$defs/sampling/properties/max_tokens" },
        "stop": { "$ref": "#/$defs/sampling/properties/stop" },
        "seed": { "$ref": "#/$defs/sampling/properties/seed" }
      },
      "additionalProperties": false
    },
    "providers": {
      "description": "Provider endpoints by name: settings for a built-in (novita, openai, local) or new providers. A new provider needs a `base_url`.",
      "type": "object",
      "properties": {
        "novita": {
          "$ref": "#/$defs/provider",
          "description": "Novita AI (built in: https://api.novita.ai/v3/openai, key in NOVITA_API_KEY)."
        },
        "openai": {
          "$ref": "#/$defs/provider",
          "description": "OpenAI (built in: OPENAI_BASE_URL or https://api.openai.com/v1, key in OPENAI_API_KEY)."
        },
        "local": {
          "$ref": "#/$defs/provider",
          "description": "A local OpenAI-compatible server (built in: http://127.0.0.1:8080/v1, no key)."
        }
      },
      "additionalProperties": {
        "$ref": "#/$defs/provider",
        "description": "A provider that is not built in; it needs a `base_url`.",
        "required": ["base_url"]
      }
    },
    "provider": {
      "description": "A provider endpoint and its limits.",
      "type": "object",
      "properties": {
        "type": {
          "description": "The API the provider speaks: openai (OpenAI-compatible /chat/completions) or anthropic (the Messages API, POST {base_url}/v1/messages with x-api-key; structured output goes in the system prompt; min_p, the penalties and seed are not sent).",
          "enum": ["openai", "anthropic"],
          "default": "openai"
        },
        "base_url": {
          "description": "The API's base URL (http or https), e.g. https://api.novita.ai/v3/openai; for type anthropic the base the Anthropic SDKs take, without /v1, e.g. https://api.novita.ai/anthropic.",
          "type": "string",
          "format": "uri",
          "pattern": "^https?://[^\\s/?#:@]"
        },
        "api_key_env": {
          "description": "The environment variable that holds the API key (not the key itself), or null for a provider that needs no key.",
          "type": ["string", "null"],
          "maxLength": 64,
          "pattern": "^(?!sk-)"
        },
        "max_concurrency": {
          "description": "The most requests in flight to this provider at once, across all steps; at least 1.",
          "type": "integer",
          "minimum": 1,
          "maximum": 100000
        },
        "requests_per_minute": {
          "description": "A budget of requests per minute shared by every step that uses this provider, paced evenly at 98% of it (no bursts); at least 1.",
          "type": "integer",
          "minimum": 1
        },
        "tokens_per_minute": {
          "description": "A budget of tokens per minute shared by every step that uses this provider; at least 1.",
          "type": "integer",
          "minimum": 1
        },
        "pricing": {
          "description": "Prices in USD per million tokens, by model id (\"*\" for any other model): the cost in the run's summary, `runs`, reports, `skein test`, `max_cost` and `--max-cost`. They win over prices the provider's model list carries (read under `--max-cost` only).",
          "type": "object",
          "additionalProperties": {
            "description": "A model's prices.",
            "type": "object",
            "properties": {
              "input_per_million": { "description": "USD per million prompt tokens.", "type": "number", "minimum": 0 },
              "output_per_million": { "description": "USD per million completion tokens.", "type": "number", "minimum": 0 },
              "cached_input_per_million": { "description": "USD per million prompt tokens served from the provider's cache.", "type": "number", "minimum": 0 }
            },
            "required": ["input_per_million", "output_per_million"],
            "additionalProperties": false
          }
        },
        "rate_limit_patience": {
          "$ref": "#/$defs/duration",
          "description": "How long a request keeps being retried while this provider answers 429 (rate limited) or 503/529 (overloaded), whatever the step's retries: seconds or text with a unit (90, 30s, 10m); default 10m, at most 24h."
        },
        "structured_outputs": {
          "description": "How the provider takes structured-output requests: json_schema (response_format json_schema, falling back when refused) or json_object (json_object plus the schema in the prompt).",
          "enum": ["json_schema", "json_object"]
        },
        "ca_file": {
          "description": "A PEM file of certificate authorities trusted for this provider's HTTPS connections, besides the system's: a server with a private or self-signed certificate. Relative to the pipeline file; ~ is expanded.",
          "type": ["string", "null"],
          "minLength": 1
        },
        "headers": {
          "description": "Extra HTTP headers sent with every request to this provider.",
          "type": "object",
          "additionalProperties": {
            "description": "The header's value.",
            "type": "string"
          }
        }
      },
      "additionalProperties": false
    },
    "inputType": {
      "description": "The input's JSON type.",
      "enum": ["string", "number", "integer", "boolean", "array", "object"]
    },
    "input": {
      "description": "An input: a type name (`article: string`), or a mapping like `{type: string, description: ..., default: ...}` that may add JSON Schema keywords. Left empty, it is a required string.",
      "type": ["null", "string", "object"],
      "allOf": [
        {
          "if": { "type": "string" },
          "then": {
            "$ref": "#/$defs/inputType",
            "description": "Shorthand: the input's type."
          }
        },
        {
          "if": { "type": "object" },
          "then": {
            "$ref": "#/$defs/inputDeclaration"
          }
        }
      ]
    },
    "inputDeclaration": {
      "description": "An input's declaration: its type, a description and a default, and JSON Schema keywords that values must satisfy.",
      "type": "object",
      "properties": {
        "type": {
          "$ref": "#/$defs/inputType",
          "description": "The input's JSON type; string when left out.",
          "default": "string"
        },
        "description": {
          "description": "What the input is, for people running the pipeline.",
          "type": "string"
        },
        "default": {
          "description": "The value used when the input is not given; it must have the input's type. An input without a default is required."
        },
        "items": {
          "$ref": "#/$defs/jsonSchema",
          "description": "JSON Schema: the schema of an array input's items."
        },
        "enum": {
          "description": "JSON Schema: the values the input may take.",
          "type": "array"
        },
        "properties": {
          "description": "JSON Schema: the schemas of an object input's properties.",
          "type": "object",
          "additionalProperties": {
            "$ref": "#/$defs/jsonSchema"
          }
        },
        "required": {
          "description": "JSON Schema: the properties an object input must have.",
          "type": "array",
          "items": {
            "type": "string"
          }
        },
        "additionalProperties": {
          "$ref": "#/$defs/jsonSchema",
          "description": "JSON Schema: the schema of an object input's other properties (false allows none)."
        },
        "minimum": {
          "description": "JSON Schema: the smallest value a number input may take.",
          "type": "number"
        },
        "maximum": {
          "description": "JSON Schema: the largest value a number input may take.",
          "type": "number"
        },
        "minLength": {
          "description": "JSON Schema: the fewest characters a string input may have.",
          "type": "integer",
          "minimum": 0
        },
        "maxLength": {
          "description": "JSON Schema: the most characters a string input may have.",
          "type": "integer",
          "minimum": 0
        },
        "pattern": {
          "description": "JSON Schema: a regular expression a string input must match.",
          "type": "string",
          "format": "regex"
        },
        "format": {
          "description": "JSON Schema: a format a string input must have (date-time, email, uri, uuid, ...).",
          "type": "string"
        },
        "minItems": {
          "description": "JSON Schema: the fewest items an array input may have.",
          "type": "integer",
          "minimum": 0
        },
        "maxItems": {
          "description": "JSON Schema: the most items an array input may have.",
          "type": "integer",
          "minimum": 0
        }
      },
      "additionalProperties": false,
      "allOf": [
        {
          "if": { "properties": { "type": { "const": "string" } } },
          "then": { "properties": { "default": { "type": "string" } } }
        },
        {
          "if": { "properties": { "type": { "const": "number" } }, "required": ["type"] },
          "then": { "properties": { "default": { "type": "number" } } }
        },
        {
          "if": { "properties": { "type": { "const": "integer" } }, "required": ["type"] },
          "then": { "properties": { "default": { "type": "integer" } } }
        },
        {
          "if": { "properties": { "type": { "const": "boolean" } }, "required": ["type"] },
          "then": { "properties": { "default": { "type": "boolean" } } }
        },
        {
          "if": { "properties": { "type": { "const": "array" } }, "required": ["type"] },
          "then": { "properties": { "default": { "type": "array" } } }
        },
        {
          "if": { "properties": { "type": { "const": "object" } }, "required": ["type"] },
          "then": { "properties": { "default": { "type": "object" } } }
        }
      ]
    },
    "step": {
      "description": "A step: one model request (or one per item with `for_each`). It needs a `prompt` or `messages`, not both.",
      "type": "object",
      "properties": {
        "description": {
          "description": "What the step does, for people reading the pipeline.",
          "type": "string"
        },
        "system": {
          "$ref": "#/$defs/template",
          "description": "A template for the system message, sent before `prompt`. Not with `messages` (put it there) or `api: completion`."
        },
        "prompt": {
          "$ref": "#/$defs/template",
          "description": "A template for the user message (with `api: completion`, the raw prompt text)."
        },
        "messages": {
          "description": "The conversation to send, instead of `system` and `prompt`.",
          "type": "array",
          "minItems": 1,
          "items": {
            "$ref": "#/$defs/message"
          }
        },
        "api": {
          "description": "Which API to call: chat (Chat Completions, or the Messages API on an anthropic provider) or completion (the legacy Completions API, sending `prompt` as raw text; no `messages`, `system` or `tools`; not on anthropic providers).",
          "enum": ["chat", "completion"],
          "default": "chat"
        },
        "provider": { "$ref": "#/$defs/settings/properties/provider" },
        "model": { "$ref": "#/$defs/settings/properties/model" },
        "extra": { "$ref": "#/$defs/settings/properties/extra" },
        "output": {
          "$ref": "#/$defs/output"
        },
        "reasoning": { "$ref": "#/$defs/settings/properties/reasoning" },
        "tools": {
          "description": "Tools (functions) the model may call. A tool with `run` or `http` is run by Skein and its result goes back to the model until a reply has no calls (at most `max_turns` replies); the calls of every turn come back as `.tool_calls` ({name, arguments, result, error, turn}).",
          "type": "array",
          "items": {
            "$ref": "#/$defs/tool"
          }
        },
        "max_turns": {
          "description": "The most model replies a step whose tools run may take (default 8); reaching it fails the step. Needs a tool with `run` or `http`.",
          "type": "integer",
          "minimum": 1,
          "maximum": 1000
        },
        "tool_choice": {
          "description": "Whether and which tool the model must call: auto, none, required, or a mapping such as {type: function, function: {name: NAME}}. Needs `tools`.",
          "anyOf": [
            {
              "enum": ["auto", "none", "required"]
            },
            {
              "type": "string"
            },
            {
              "type": "object"
            }
          ]
        },
        "needs": {
          "description": "Steps that must finish before this one, beyond those its templates read: a step name or a list of them.",
          "oneOf": [
            {
              "type": "string"
            },
            {
              "type": "array",
              "items": {
                "type": "string"
              }
            }
          ]
        },
        "when": {
          "$ref": "#/$defs/template",
          "description": "A condition such as \"{{ inputs.translate }}\": the step is skipped unless it renders as true."
        },
        "for_each": {
          "$ref": "#/$defs/template",
          "description": "A template giving a list, such as \"{{ inputs.languages }}\": the step runs once per item (needs `as`), and `.output` is the list of item outputs in item order."
        },
        "as": {
          "description": "The name of the item variable inside a `for_each` step's templates (not inputs, steps, env or loop).",
          "type": "string",
          "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
          "not": {
            "enum": ["inputs", "steps", "env", "loop"]
          }
        },
        "max_concurrency": { "$ref": "#/$defs/settings/properties/max_concurrency" },
        "retries": { "$ref": "#/$defs/settings/properties/retries" },
        "timeout": { "$ref": "#/$defs/settings/properties/timeout" },
        "cache": { "$ref": "#/$defs/settings/properties/cache" },
        "expect": {
          "description": "Assertions checked on every run of this step (each item's output for a for_each step): warnings in `skein run`, verdicts in `skein test`.",
          "$ref": "#/$defs/assertions"
        },
        "temperature": { "$ref": "#/$defs/sampling/properties/temperature" },
        "top_p": { "$ref": "#/$defs/sampling/properties/top_p" },
        "top_k": { "$ref": "#/$defs/sampling/properties/top_k" },
        "min_p": { "$ref": "#/$defs/sampling/properties/min_p" },
        "presence_penalty": { "$ref": "#/$defs/sampling/properties/presence_penalty" },
        "frequency_penalty": { "$ref": "#/$defs/sampling/properties/frequency_penalty" },
        "repetition_penalty": { "$ref": "#/$defs/sampling/properties/repetition_penalty" },
        "max_tokens": { "$ref": "#/$defs/sampling/properties/max_tokens" },
        "stop": { "$ref": "#/$defs/sampling/properties/stop" },
        "seed": { "$ref": "#/$defs/sampling/properties/seed" }
      },
      "additionalProperties": false,
      "oneOf": [
        {
          "description": "A step with a prompt.",
          "required": ["prompt"]
        },
        {
          "description": "A step with messages.",
          "required": ["messages"]
        }
      ],
      "dependentRequired": {
        "for_each": ["as"],
        "as": ["for_each"],
        "tool_choice": ["tools"],
        "max_turns": ["tools"]
      },
      "dependentSchemas": {
        "messages": {
          "description": "With `messages`, the system message goes in the list.",
          "properties": {
            "system": false
          }
        }
      },
      "if": {
        "properties": {
          "api": {
            "const": "completion"
          }
        },
        "required": ["api"]
      },
      "then": {
        "description": "`api: completion` sends `prompt` as raw text.",
        "properties": {
          "messages": false,
          "system": false,
          "tools": false
        }
      }
    },
    "message": {
      "description": "A message: its role and content.",
      "type": "object",
      "properties": {
        "role": {
          "description": "Who speaks: system, user or assistant.",
          "enum": ["system", "user", "assistant"]
        },
        "content": {
          "description": "A template, or a list of parts ({text: ...}, {image_url: ...}, {image_file: path}) for vision models.",
          "anyOf": [
            {
              "$ref": "#/$defs/template"
            },
            {
              "type": "array",
              "items": {
                "$ref": "#/$defs/part"
              }
            }
          ]
        },
        "name": {
          "description": "An optional name for the speaker, sent as the message's `name`.",
          "type": "string"
        }
      },
      "required": ["role", "content"],
      "additionalProperties": false
    },
    "part": {
      "description": "A part of a message's content: exactly one of text, image_url or image_file.",
      "oneOf": [
        {
          "type": "object",
          "properties": {
            "text": {
              "$ref": "#/$defs/template",
              "description": "A template for a text part."
            }
          },
          "required": ["text"],
          "additionalProperties": false
        },
        {
          "type": "object",
          "properties": {
            "image_url": {
              "$ref": "#/$defs/template",
              "description": "A template for an image's URL (https: or data:)."
            }
          },
          "required": ["image_url"],
          "additionalProperties": false
        },
        {
          "type": "object",
          "properties": {
            "image_file": {
              "description": "A local image (.png, .jpg, .jpeg, .gif or .webp, at most 20 MiB) relative to the pipeline file, inside the working directory; sent as a data URL.",
              "type": "string"
            }
          },
          "required": ["image_file"],
          "additionalProperties": false
        }
      ]
    },
    "output": {
      "description": "What the step's reply is: `{schema: ...}` asks for structured output, validates the reply and makes the parsed value `.output`; `{format: json}` parses JSON without a schema; `{format: text}` (the default) keeps the text.",
      "type": "object",
      "properties": {
        "schema": {
          "$ref": "#/$defs/jsonSchema",
          "description": "The JSON Schema the reply must satisfy (sent as response_format json_schema, or json_object plus the schema in the prompt where a provider lacks it)."
        },
        "format": {
          "description": "json parses the reply as JSON; text keeps it as text. With a `schema`, only json.",
          "enum": ["json", "text"]
        }
      },
      "additionalProperties": false,
      "minProperties": 1,
      "if": {
        "required": ["schema"]
      },
      "then": {
        "properties": {
          "format": {
            "const": "json"
          }
        }
      }
    },
    "tool": {
      "description": "A tool (function) the model may call.",
      "type": "object",
      "properties": {
        "name": {
          "description": "The function's name.",
          "type": "string"
        },
        "description": {
          "description": "What the function does, for the model.",
          "type": "string"
        },
        "parameters": {
          "description": "A JSON Schema (a mapping) of the function's arguments; the arguments are checked against it before the tool runs.",
          "type": "object"
        },
        "run": {
          "description": "Run the tool as a process: the program and its arguments (no shell, no templates), run in the pipeline's directory with only PATH, HOME, LANG and the names under `env:`; the model's arguments as JSON on stdin; stdout (at most 1 MiB) is the result; a non-zero exit is an error the model sees.",
          "type": "array",
          "items": {
            "type": "string",
            "minLength": 1
          },
          "minItems": 1
        },
        "http": {
          "description": "Run the tool over HTTP: POST the arguments as the JSON body to `url`; the response body is the result.",
          "type": "object",
          "properties": {
            "url": {
              "description": "The http:// or https:// URL the arguments are POSTed to.",
              "type": "string",
              "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://"
            }
          },
          "required": ["url"],
          "additionalProperties": false
        },
        "timeout": {
          "description": "How long one execution may take (default 60s); the process group is killed after it.",
          "$ref": "#/$defs/duration"
        },
        "cache": {
          "description": "false: run the tool every time instead of replaying the stored result of the same call (a re-run or a resume runs it again).",
          "type": "boolean"
        }
      },
      "required": ["name"],
      "not": {
        "required": ["run", "http"]
      },
      "additionalProperties": false
    }
  }
}

"""##
}
