import "./foundation_cases.ts";
import "./metrics_cases.ts";
import "./eigen_cases.ts";
import "./data_cases.ts";
import "./io_cases.ts";
import "./matmul_cases.ts";
import "./random_cases.ts";
import "./optim_cases.ts";
