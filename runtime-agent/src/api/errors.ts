// Errors as the Docker Engine API returns them: a status code and `{"message": …}`.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export const badRequest = (message: string) => new ApiError(400, message);
export const notFound = (message: string) => new ApiError(404, message);
export const forbidden = (message: string) => new ApiError(403, message);
export const conflict = (message: string) => new ApiError(409, message);
export const notModified = () => new ApiError(304, '');
export const serverError = (message: string) => new ApiError(500, message);

/** The status and body for any error a handler throws. */
export function errorResponse(error: unknown): { status: number; message: string } {
  if (error instanceof ApiError) return { status: error.status, message: error.message };
  const message = error instanceof Error ? error.message : String(error);
  return { status: 500, message };
}
