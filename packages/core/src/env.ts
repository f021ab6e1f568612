import { EnvironmentError } from "./errors.ts";

/** Reads a required environment variable, failing with a message that names it. */
export function requireEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") {
    throw new EnvironmentError(`environment variable ${name} is not set`);
  }
  return value;
}

/** Reads an optional environment variable with a default. */
export function optionalEnv(name: string, fallback: string): string;
export function optionalEnv(name: string): string | undefined;
export function optionalEnv(name: string, fallback?: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === "" ? fallback : value;
}

/** The region clients default to. */
export function region(): string {
  return optionalEnv("AWS_REGION") ?? optionalEnv("AWS_DEFAULT_REGION") ?? "us-east-1";
}
