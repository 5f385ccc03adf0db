// What Build and Run names an image when nothing else names it.

/** A repository name from a folder's name, as Docker allows them: lowercase, other characters as `-`. */
export function defaultRepository(folderName: string): string {
  const name = folderName.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '');
  return name || 'app';
}
