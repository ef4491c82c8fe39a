import "./foundation_cases.ts";
import "./metrics_cases.ts";
import "./eigen_cases.ts";
