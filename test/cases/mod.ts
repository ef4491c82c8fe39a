import "./foundation_cases.ts";
import "./metrics_cases.ts";
