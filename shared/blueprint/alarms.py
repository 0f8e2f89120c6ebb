"""CloudWatch alarms with Archway's seed thresholds, all notifying one SNS topic.

Rates are metric math over sums (errors / requests), so a quiet service never alarms
and one failure in a million calls does not page anyone.
"""

from __future__ import annotations

from troposphere import Template
from troposphere import cloudwatch as cw

from archway.shared.naming import logical_id

PERIOD = 300  # seconds


class Alarms:
    def __init__(self, template: Template, topic: object, prefix: str) -> None:
        self.t = template
        self.topic = topic
        self.prefix = prefix

    def _alarm(self, name: str, description: str, **props: object) -> cw.Alarm:
        return self.t.add_resource(cw.Alarm(
            logical_id(name, "alarm"),
            AlarmName=f"{self.prefix}-{name}",
            AlarmDescription=description,
            AlarmActions=[self.topic],
            OKActions=[self.topic],
            EvaluationPeriods=1,
            DatapointsToAlarm=1,
            ComparisonOperator="GreaterThanThreshold",
            TreatMissingData="notBreaching",
            **props,
        ))

    def _rate(self, name: str, description: str, percent: float, namespace: str,
              dimensions: list[cw.MetricDimension], errors: str, total: str) -> cw.Alarm:
        def stat(metric_id: str, metric: str) -> cw.MetricDataQuery:
            return cw.MetricDataQuery(Id=metric_id, ReturnData=False, MetricStat=cw.MetricStat(
                Metric=cw.Metric(Namespace=namespace, MetricName=metric, Dimensions=dimensions),
                Period=PERIOD, Stat="Sum"))

        return self._alarm(name, description, Threshold=percent, Metrics=[
            stat("errors", errors),
            stat("total", total),
            cw.MetricDataQuery(Id="rate", Label=f"{errors} %",
                               Expression="IF(total > 0, 100 * errors / total, 0)",
                               ReturnData=True),
        ])

    def api_5xx_rate(self, api_name: str, stage: object, percent: float) -> cw.Alarm:
        dims = [cw.MetricDimension(Name="ApiName", Value=api_name),
                cw.MetricDimension(Name="Stage", Value=stage)]
        return self._rate("api-5xx", f"API 5XX rate above {percent}%", percent,
                          "AWS/ApiGateway", dims, "5XXError", "Count")

    def api_latency_p99(self, api_name: str, stage: object, millis: int) -> cw.Alarm:
        return self._alarm(
            "api-latency", f"API p99 latency above {millis} ms",
            Namespace="AWS/ApiGateway", MetricName="Latency", ExtendedStatistic="p99",
            Dimensions=[cw.MetricDimension(Name="ApiName", Value=api_name),
                        cw.MetricDimension(Name="Stage", Value=stage)],
            Period=PERIOD, Threshold=millis, Unit="Milliseconds",
        )

    def lambda_error_rate(self, name: str, function: object, percent: float) -> cw.Alarm:
        dims = [cw.MetricDimension(Name="FunctionName", Value=function)]
        return self._rate(f"{name}-errors", f"Lambda {name} error rate above {percent}%",
                          percent, "AWS/Lambda", dims, "Errors", "Invocations")

    def dynamodb_throttles(self, name: str, table: object) -> cw.Alarm:
        def stat(metric_id: str, metric: str) -> cw.MetricDataQuery:
            return cw.MetricDataQuery(Id=metric_id, ReturnData=False, MetricStat=cw.MetricStat(
                Metric=cw.Metric(Namespace="AWS/DynamoDB", MetricName=metric, Dimensions=[
                    cw.MetricDimension(Name="TableName", Value=table)]),
                Period=PERIOD, Stat="Sum"))

        return self._alarm(f"{name}-throttles", f"DynamoDB table {name} throttled requests",
                           Threshold=0, Metrics=[
                               stat("reads", "ReadThrottleEvents"),
                               stat("writes", "WriteThrottleEvents"),
                               # DynamoDB emits no throttle datapoints while nothing is
                               # throttled: without FILL, "reads + writes" has no value
                               # whenever one of them is absent, so throttled writes alone
                               # never alarm. FILL(m, 0) makes a missing series count as 0:
                               # https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html
                               cw.MetricDataQuery(Id="throttles", Label="throttled requests",
                                                  Expression="FILL(reads, 0) + FILL(writes, 0)",
                                                  ReturnData=True),
                           ])



