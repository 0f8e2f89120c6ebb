"""Realistic config mistakes, as teams make them, and the one line each must produce.

Each case edits a copy of the repository's real config. The line must start with
``error: <file>: <key>: `` and show the bad value; see test_config_corpus.py.
"""

from __future__ import annotations

from unit.config_corpus.edits import (
    CATALOG,
    DEV,
    PLATFORM,
    REVIEWS,
    Case,
    append,
    end,
    function,
    rename,
    replace,
    route,
    write,
)

LONG = "services/customerreviewsstore/service.yaml"
BOMB = (  # "billion laughs": 1 KB of YAML, 10**9 values once expanded
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(f"{n}: &{n} [{','.join([f'*{p}'] * 10)}]\n"
              for p, n in zip("abcdefgh", "bcdefghi", strict=True))
)

YAML_CASES = {
    "unclosed flow list": Case((replace(CATALOG, "reads: [products]\n  products:",
                                        "reads: [products\n  products:"),),
                               "services/catalog/service.yaml: line 27, column", "invalid YAML"),
    "tab indentation": Case((replace(CATALOG, "    memory: 256\n    timeout: 5\n    reads",
                                     "    memory: 256\n\ttimeout: 5\n    reads"),),
                            "services/catalog/service.yaml: line 25, column 1: ", "'\\t'"),
    "duplicate key in a function": Case(
        (replace(CATALOG, "    memory: 256\n    timeout: 5\n    reads: [products]\n  products",
                 "    memory: 256\n    timeout: 5\n    memory: 1024\n    reads: [products]\n"
                 "  products"),),
        "services/catalog/service.yaml: line 26: ", "duplicate key 'memory'",
        ("first on line 24",)),
    "duplicate function": Case((function("search", "handler: products.handler"),),
                               "services/catalog/service.yaml: line 32: ",
                               "duplicate key 'search'"),
    "duplicate environment account": Case(
        (replace(CATALOG, '  prod: "310000000001"', '  prod: "310000000001"\n  dev: "2"'),),
        "services/catalog/service.yaml: line 10: ", "duplicate key 'dev'",
        ("first on line 8",)),
    "alias bomb": Case((write(PLATFORM, "name: archway\nhome_region: eu-west-1\n" + BOMB),),
                       "config/platform.yaml: line ", "aliases expand to more than"),
    "recursive alias": Case((append(PLATFORM, "loop: &loop [*loop]\n"),),
                            f"config/platform.yaml: line {end(PLATFORM)}: ", "recursive alias"),
    "undefined alias": Case((replace(CATALOG, "timeout: 5\n    reads",
                                     "timeout: *five\n    reads"),),
                            "services/catalog/service.yaml: line 25, column 14: ", "alias 'five'"),
    "deep nesting": Case((append(CATALOG, "extra: " + "[" * 200 + "]" * 200 + "\n"),),
                         "services/catalog/service.yaml: line 38: ", "nested more than 32"),
    "latin-1 file": Case((write(REVIEWS, "name: reviews\nowner: \xe9quipe-avis\n".encode(
                               "latin-1")),),
                         "services/reviews/service.yaml: line 2: ", "not UTF-8 (byte 0xe9)"),
    "control character": Case((replace(CATALOG, "owner: team-catalog",
                                       "owner: team-\x08catalog"),),
                              "services/catalog/service.yaml: line 4: ",
                              "control character U+0008"),
    "huge file": Case((append(CATALOG, "# " + "x" * 300_000 + "\n"),),
                      "services/catalog/service.yaml: ", "limited to 256 KB"),
    "two documents": Case((append(DEV, "---\nplatform_account: '1'\n"),),
                          f"config/environments/dev.yaml: line {end(DEV)}, column 1: ",
                          "expected a single document"),
    "empty service file": Case((write(CATALOG, "# nothing yet\n"),),
                               "services/catalog/service.yaml: ", "must be a mapping",
                               ("got nothing",)),
    "service file is a list": Case((write(CATALOG, "- name: catalog\n"),),
                                   "services/catalog/service.yaml: ", "(got list)"),
    "octal-looking account id": Case(
        (replace(CATALOG, 'dev: "210000000001"', "dev: 012345670123"),),
        "services/catalog/service.yaml: accounts.dev: ", "012345670123",
        ("octal", "quote account ids")),
    "unquoted account id": Case(
        (replace(DEV, 'platform_account: "200000000000"', "platform_account: 200000000000"),),
        "config/environments/dev.yaml: platform_account: ", "200000000000",
        ("quote account ids",)),
    "norway read as false": Case((replace(PLATFORM, "geo_block: []", "geo_block: [NO, RU]"),),
                                 "config/platform.yaml: edge.waf.geo_block[0]: ", "NO",
                                 ("false", "quote country codes")),
    "owner yes read as true": Case((replace(CATALOG, "owner: team-catalog", "owner: yes"),),
                                   "services/catalog/service.yaml: owner: ", "yes",
                                   ("true",)),
    "service.yml extension": Case((rename(CATALOG, "services/catalog/service.yml"),),
                                  "services/catalog/service.yml: ", "'service.yaml'"),
    "environment .yml extension": Case(
        (rename("config/environments/prod.yaml", "config/environments/prod.yml"),),
        "config/environments/prod.yml: ", "'prod.yaml'"),
    "typo in an optional section": Case(
        (replace("config/environments/prod.yaml", "domain: {name:", "domain: {nmae:"),),
        "config/environments/prod.yaml: domain.nmae: ", "did you mean 'name'"),
    "typo in a function": Case((replace(CATALOG, "    memory: 256\n    timeout: 5\n    reads",
                                        "    memroy: 512\n    timeout: 5\n    reads"),),
                               "services/catalog/service.yaml: functions.search.memroy: ",
                               "did you mean 'memory'"),
    "typo at the top": Case((replace(CATALOG, "throttling:", "throttle:"),),
                            "services/catalog/service.yaml: throttle: ",
                            "did you mean 'throttling'"),
    "date read as a timestamp": Case((replace(CATALOG, "owner: team-catalog",
                                              "owner: 2024-01-01"),),
                                     "services/catalog/service.yaml: owner: ", "2024-01-01",
                                     ("timestamp",)),
    "empty value": Case((replace(CATALOG, "owner: team-catalog", "owner:"),),
                        "services/catalog/service.yaml: owner: ", "is empty"),
    "mapping written as a string": Case(
        (replace(CATALOG, "partition_key: {name: pk, type: S}", "partition_key: pk"),),
        "services/catalog/service.yaml: tables.products.partition_key: ", "(got 'pk')",
        ("must be a mapping",)),
    "two mistakes on one line": Case(
        (replace(CATALOG, "memory: 256", "memory: lots"),
         replace(CATALOG, "burst: 400", "burst: many")),
        "services/catalog/service.yaml: functions.search.memory: ", "(got 'lots')",
        ("(and 1 more error: throttling.burst)",)),
    "very long value": Case((replace(CATALOG, "runtime: python3.12",
                                     "runtime: python3.12" + "-x" * 500),),
                            "services/catalog/service.yaml: runtime: ", "(1010 chars)"),
}

NAME_CASES = {
    "environment with underscore and capitals": Case(
        (rename(DEV, "config/environments/staging_EU.yaml"),),
        "config/environments/staging_EU.yaml: ", "'staging_EU'", ("lowercase",)),
    "environment name too long for buckets": Case(
        (rename(DEV, "config/environments/integration-eu-central-1.yaml"),),
        "config/environments/integration-eu-central-1.yaml: ",
        "'archway-integration-eu-central-1-edge-logs-200000000000-eu-west-1'",
        ("S3 bucket", "(max 63)")),
    "environment named all": Case((rename(DEV, "config/environments/all.yaml"),),
                                  "config/environments/all.yaml: ", "'all' is reserved"),
    "environment named tooling": Case((rename(DEV, "config/environments/tooling.yaml"),),
                                      "config/environments/tooling.yaml: ",
                                      "'tooling' is reserved"),
    "function name too long": Case(
        (rename("services/reviews", "services/customerreviewsstore"),
         replace(LONG, "name: reviews", "name: customerreviewsstore"),
         replace(LONG, "functions:\n", "functions:\n  recompute-ratings-nightly-batch:\n"
                 "    handler: views.handler\n")),
        "services/customerreviewsstore/service.yaml: functions.recompute-ratings-nightly-batch: ",
        "'archway-local-customerreviewsstore-recompute-ratings-nightly-batch'",
        ("66 characters (max 64)", "Lambda function and IAM role")),
    "function with underscore": Case((function("re_index"),),
                                     "services/catalog/service.yaml: functions.re_index: ",
                                     "'re_index'", ("name must be lowercase",)),
    "table with capitals": Case((replace(CATALOG, "  products:\n    partition_key",
                                         "  Products:\n    partition_key"),),
                                "services/catalog/service.yaml: tables.Products: ",
                                "'Products'"),
    "service name with capitals": Case((replace(CATALOG, "name: catalog", "name: Catalog"),),
                                       "services/catalog/service.yaml: name: ", "'Catalog'"),
    "platform name too long": Case((replace(PLATFORM, "name: archway", "name: archwayplatform"),),
                                   "config/platform.yaml: name: ", "'archwayplatform'"),
    "function collides with access logs": Case(
        (function("api-access"),),
        "services/catalog/service.yaml: functions.api-access: ", "'ApiAccessLogs'",
        ("access log group",)),
    "routes differing by dash and underscore": Case(
        (route("/top-sellers"), route("/top_sellers")),
        "services/catalog/service.yaml: routes[3].path: ", "'/top_sellers'",
        ("routes[2].path '/top-sellers'", "ResourceApiCatalogTopSellers")),
    "routes differing by case": Case(
        (route("/Deals"), route("/deals")),
        "services/catalog/service.yaml: routes[3].path: ", "'/deals'", ("'/Deals'",)),
    "route split differently": Case(
        (route("/gift-cards/list"), route("/gift/cards-list")),
        "services/catalog/service.yaml: routes[3].path: ", "'/gift/cards-list'",
        ("'/gift-cards/list'",)),
    "literal segment collides with a parameter": Case(
        (route("/products/{id}/price"), route("/products/id-param")),
        "services/catalog/service.yaml: routes[3].path: ", "'/products/id-param'",
        ("ResourceApiCatalogProductsIdParam",)),
    "service folder and name differ": Case(
        (replace(REVIEWS, "name: reviews", "name: review"),),
        "services/reviews/service.yaml: name: ", "'review'"),
}

CASES = {**YAML_CASES, **NAME_CASES}

SEARCH_FN = "    handler: search.handler\n    memory: 256\n    timeout: 5\n"


def search_fn(extra: str) -> tuple:
    """Add lines to the catalog's search function."""
    return (replace(CATALOG, SEARCH_FN, SEARCH_FN + extra),)


SEMANTIC_CASES = {
    "sibling path parameters": Case(
        (route("/products/{slug}/related", "products"),),
        "services/catalog/service.yaml: routes[2].path: ", "{slug}",
        ("beside {id} of routes[1]", "use {id}")),
    "parameter twice in a path": Case((route("/compare/{id}/with/{id}"),),
                                      "services/catalog/service.yaml: routes[2].path: ",
                                      "{id} appears twice"),
    "query string in a path": Case((route("/search?q={q}"),),
                                   "services/catalog/service.yaml: routes[2].path: ",
                                   "'/search?q={q}'"),
    "greedy parameter": Case((route("/files/{proxy+}"),),
                             "services/catalog/service.yaml: routes[2].path: ",
                             "'/files/{proxy+}'"),
    "trailing slash": Case((route("/deals/"),), "services/catalog/service.yaml: routes[2].path: ",
                           "'/deals/'"),
    "parameter inside a segment": Case((route("/products/sku-{sku}"),),
                                       "services/catalog/service.yaml: routes[2].path: ",
                                       "'/products/sku-{sku}'"),
    "route of another service": Case((route("/api/reviews/latest"),),
                                     "services/catalog/service.yaml: routes[2].path: ",
                                     "'/api/reviews/latest'", ("/api/catalog/",)),
    "route to an unknown function": Case((route("/deals", "deals"),),
                                         "services/catalog/service.yaml: routes[2].function: ",
                                         "'deals'"),
    "no routes": Case((replace(CATALOG, "routes:\n  - {method: GET, path: /search, function: "
                               "search, cache_ttl: 30}\n  - {method: GET, path: \"/products/{id}\","
                               " function: products}\n", "routes: []\n"),),
                      "services/catalog/service.yaml: routes: ", "at least one route"),
    "index key retypes the table key": Case(
        (replace(CATALOG, "partition_key: {name: search_pk, type: S}",
                 "partition_key: {name: pk, type: N}"),),
        "services/catalog/service.yaml: tables.products.indexes.search.partition_key.type: ",
        "'pk'", ("'N' here but 'S' at tables.products.partition_key",)),
    "sort key equals partition key": Case(
        (replace(CATALOG, "sort_key: {name: sk, type: S}\n    indexes",
                 "sort_key: {name: pk, type: S}\n    indexes"),),
        "services/catalog/service.yaml: tables.products.sort_key.name: ", "'pk'"),
    "key type spelled out": Case(
        (replace(CATALOG, "partition_key: {name: pk, type: S}",
                 "partition_key: {name: pk, type: string}"),),
        "services/catalog/service.yaml: tables.products.partition_key.type: ", "'string'"),
    "handler module missing": Case(
        (replace(CATALOG, "handler: search.handler", "handler: serch.handler"),),
        "services/catalog/service.yaml: functions.search.handler: ", "'serch.handler'",
        ("no module serch.py in services/catalog/src/",)),
    "handler function missing": Case(
        (replace(CATALOG, "handler: search.handler", "handler: search.handle"),),
        "services/catalog/service.yaml: functions.search.handler: ", "'search.handle'",
        ("defines no 'handle'",)),
    "handler outside src": Case(
        (replace(CATALOG, "handler: search.handler", "handler: lib/../../../reviews/src/"
                 "reviews.handler"),),
        "services/catalog/service.yaml: functions.search.handler: ", "'lib/../../",
        ("inside src/",)),
    "handler module does not parse": Case(
        (write("services/catalog/src/broken.py", "def handler(event, context:\n    pass\n"),
         replace(CATALOG, "handler: search.handler", "handler: broken.handler")),
        "services/catalog/service.yaml: functions.search.handler: ", "'broken.handler'",
        ("does not parse (line 1)",)),
    "handler written as a path": Case(
        (replace(CATALOG, "handler: search.handler", "handler: src/search.py"),),
        "services/catalog/service.yaml: functions.search.handler: ", "'src/search.py'",
        ("module.function",)),
    "region that does not exist": Case(
        (replace(PLATFORM, "home_region: eu-west-1", "home_region: eu-west-9"),),
        "config/platform.yaml: home_region: ", "'eu-west-9'",
        ("did you mean 'eu-west-1' or 'eu-west-2' or 'eu-west-3'?",)),
    "region in capitals": Case(
        (replace(PLATFORM, "home_region: eu-west-1", "home_region: EU-West-1"),),
        "config/platform.yaml: home_region: ", "'EU-West-1'"),
    "unknown WAF rule group": Case(
        (replace(PLATFORM, "- AWSManagedRulesSQLiRuleSet", "- AWSManagedRulesSQLRuleSet"),),
        "config/platform.yaml: edge.waf.managed_rule_groups: ", "'AWSManagedRulesSQLRuleSet'",
        ("did you mean 'AWSManagedRulesSQLiRuleSet'?",)),
    "WAF group that needs configuration": Case(
        (replace(PLATFORM, "- AWSManagedRulesSQLiRuleSet", "- AWSManagedRulesBotControlRuleSet"),),
        "config/platform.yaml: edge.waf.managed_rule_groups: ",
        "'AWSManagedRulesBotControlRuleSet'", ("configuration",)),
    "WAF group listed twice": Case(
        (replace(PLATFORM, "- AWSManagedRulesSQLiRuleSet", "- AWSManagedRulesCommonRuleSet"),),
        "config/platform.yaml: edge.waf.managed_rule_groups: ",
        "'AWSManagedRulesCommonRuleSet' is listed twice"),
    "IPv4 and IPv6 in one IP set": Case(
        (replace(PLATFORM, "ip_allow: []", 'ip_allow: ["203.0.113.0/24", "2001:db8::/32"]'),),
        "config/platform.yaml: edge.waf.ip_allow: ", "'2001:db8::/32'", ("one address family",)),
    "CIDR with host bits": Case(
        (replace(PLATFORM, "ip_deny: []", 'ip_deny: ["10.0.0.1/8"]'),),
        "config/platform.yaml: edge.waf.ip_deny: ", "'10.0.0.1/8' is not a CIDR block"),
    "reserved _HANDLER variable": Case(search_fn("    environment: {_HANDLER: other.handler}\n"),
                                       "services/catalog/service.yaml: functions.search."
                                       "environment: ", "'_HANDLER' is reserved"),
    "reserved AWS_REGION variable": Case(search_fn("    environment: {AWS_REGION: eu-west-1}\n"),
                                         "services/catalog/service.yaml: functions.search."
                                         "environment: ", "'AWS_REGION' is reserved"),
    "reserved LAMBDA_TASK_ROOT variable": Case(
        search_fn("    environment: {LAMBDA_TASK_ROOT: /opt}\n"),
        "services/catalog/service.yaml: functions.search.environment: ",
        "'LAMBDA_TASK_ROOT' is reserved"),
    "variable Archway sets": Case(search_fn("    environment: {PRODUCTS_TABLE: other}\n"),
                                  "services/catalog/service.yaml: functions.search.environment: ",
                                  "'PRODUCTS_TABLE' is reserved", ("Archway",)),
    "variable name with a dash": Case(search_fn("    environment: {LOG-LEVEL: debug}\n"),
                                      "services/catalog/service.yaml: functions.search."
                                      "environment.LOG-LEVEL: ", "'LOG-LEVEL'"),
    "variable read as a number": Case(search_fn("    environment: {PAGE_SIZE: 020}\n"),
                                      "services/catalog/service.yaml: functions.search."
                                      "environment.PAGE_SIZE: ", "020", ("quote the value",)),
    "environment over 4 KB": Case(search_fn(f"    environment: {{BANNER: \"{'x' * 4100}\"}}\n"),
                                  "services/catalog/service.yaml: functions.search.environment: ",
                                  "bytes in", ("Lambda allows 4096",)),
    "routed function timeout above 29 s": Case(
        (replace(CATALOG, "    timeout: 5\n    reads: [products]\n  products",
                 "    timeout: 60\n    reads: [products]\n  products"),),
        "services/catalog/service.yaml: functions.search.timeout: ", "(got 60)", ("29 s",)),
    "timeout above Lambda's 900 s": Case(
        (replace(CATALOG, "    timeout: 5\n    reads: [products]\n  products",
                 "    timeout: 3600\n    reads: [products]\n  products"),),
        "services/catalog/service.yaml: functions.search.timeout: ", "(got 3600)", ("900",)),
    "memory as text": Case((replace(CATALOG, "memory: 256", "memory: 1GB"),),
                           "services/catalog/service.yaml: functions.search.memory: ", "'1GB'"),
    "owner with a hash": Case((replace(CATALOG, "owner: team-catalog", "owner: team#catalog"),),
                              "services/catalog/service.yaml: owner: ", "'#'", ("tag value",)),
    "owner too long for a tag": Case((replace(CATALOG, "owner: team-catalog",
                                              "owner: " + "team " * 60),),
                                     "services/catalog/service.yaml: owner: ", "(299 chars)"),
    "owner missing": Case((replace(CATALOG, "owner: team-catalog\n", ""),),
                          "services/catalog/service.yaml: owner: ", "is required"),
    "content security policy too long": Case(
        (replace(PLATFORM, "    frame_options: DENY",
                 "    content_security_policy: \"default-src 'self' "
                 f"{'https://cdn.example.com ' * 80}\"\n"
                 "    frame_options: DENY"),),
        "config/platform.yaml: edge.security_headers.content_security_policy: ",
        "chars)", ("1783",)),
    "retention not offered by CloudWatch": Case(
        (replace(DEV, "log_retention_days: 14", "log_retention_days: 45"),),
        "config/environments/dev.yaml: log_retention_days: ", "(got 45)"),
    "stage name with underscore": Case((append(DEV, "stage_name: Live_1\n"),),
                                       "config/environments/dev.yaml: stage_name: ", "'Live_1'"),
    "alarm email without domain": Case((append(DEV, "alarm_email: oncall@\n"),),
                                       "config/environments/dev.yaml: alarm_email: ",
                                       "'oncall@'"),
    "domain in capitals": Case(
        (replace("config/environments/prod.yaml", "name: shop.example.com",
                 "name: Shop.Example.com"),),
        "config/environments/prod.yaml: domain.name: ", "'Shop.Example.com'"),
    "burst of zero": Case((replace(CATALOG, "throttling: {rate: 200, burst: 400}",
                                   "throttling: {rate: 200, burst: 0}"),),
                          "services/catalog/service.yaml: throttling.burst: ", "(got 0)"),
    "account id too short": Case((replace(CATALOG, 'dev: "210000000001"', 'dev: "21000001"'),),
                                 "services/catalog/service.yaml: accounts.dev: ", "'21000001'",
                                 ("12-digit",)),
    "promotion to an unknown environment": Case(
        (replace(PLATFORM, "promotion: [dev, prod]", "promotion: [dev, staging, prod]"),),
        "config/platform.yaml: pipelines.promotion", "'staging'"),
}

# Mistakes only `archway lint` (cfn-lint) used to catch, after writing build/.
LINT_ONLY_CASES = {
    "country code that does not exist": Case(
        (replace(PLATFORM, "geo_block: []", "geo_block: [RU, XX]"),),
        "config/platform.yaml: edge.waf.geo_block: ", "'XX' is not a country code"),
    "domain label over 63 characters": Case(
        (replace("config/environments/prod.yaml", "name: shop.example.com",
                 f"name: {'black-friday-' * 6}deals.example.com"),),
        "config/environments/prod.yaml: domain.name: ", "'black-friday-black-",
        ("83 characters",)),
}

CASES.update(SEMANTIC_CASES)
CASES.update(LINT_ONLY_CASES)
