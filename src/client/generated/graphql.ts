/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
export type FileStatus = 'FAILED' | 'PENDING' | 'READY';

export type SessionStatus = 'ACTIVE' | 'COMPLETED' | 'EXPIRED' | 'PAUSED';

export type FileFieldsFragment = {
  id: string;
  name: string;
  sizeBytes: number;
  contentType: string;
  checksum: string | null;
  chunkSize: number;
  chunkCount: number;
  merkleRoot: string | null;
  status: FileStatus;
  failReason: string | null;
  createdAt: string;
};

export type FileQueryVariables = Exact<{
  id: string | number;
}>;

export type FileQuery = {
  file: {
    id: string;
    name: string;
    sizeBytes: number;
    contentType: string;
    checksum: string | null;
    chunkSize: number;
    chunkCount: number;
    merkleRoot: string | null;
    status: FileStatus;
    failReason: string | null;
    createdAt: string;
  } | null;
};

export type FilesQueryVariables = Exact<{
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;

export type FilesQuery = {
  files: {
    edges: Array<{
      cursor: string;
      node: {
        id: string;
        name: string;
        sizeBytes: number;
        contentType: string;
        checksum: string | null;
        chunkSize: number;
        chunkCount: number;
        merkleRoot: string | null;
        status: FileStatus;
        failReason: string | null;
        createdAt: string;
      };
    }>;
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
};

export type SessionFieldsFragment = {
  id: string;
  fileId: string;
  clientId: string;
  status: SessionStatus;
  totalBytes: number;
  bytesConfirmed: number;
  completedChunks: Array<number>;
  completedChunkCount: number;
  percentage: number;
  transferRateBps: number;
  urlExpiresAt: string;
  expiresAt: string;
  completedAt: string | null;
  createdAt: string;
  updatedAt: string;
};

export type TicketFieldsFragment = {
  downloadUrl: string;
  urlExpiresAt: string;
  session: {
    id: string;
    fileId: string;
    clientId: string;
    status: SessionStatus;
    totalBytes: number;
    bytesConfirmed: number;
    completedChunks: Array<number>;
    completedChunkCount: number;
    percentage: number;
    transferRateBps: number;
    urlExpiresAt: string;
    expiresAt: string;
    completedAt: string | null;
    createdAt: string;
    updatedAt: string;
  };
};

export type DownloadSessionQueryVariables = Exact<{
  id: string | number;
}>;

export type DownloadSessionQuery = {
  downloadSession: {
    id: string;
    fileId: string;
    clientId: string;
    status: SessionStatus;
    totalBytes: number;
    bytesConfirmed: number;
    completedChunks: Array<number>;
    completedChunkCount: number;
    percentage: number;
    transferRateBps: number;
    urlExpiresAt: string;
    expiresAt: string;
    completedAt: string | null;
    createdAt: string;
    updatedAt: string;
  };
};

export type DownloadProgressQueryVariables = Exact<{
  sessionId: string | number;
}>;

export type DownloadProgressQuery = {
  downloadProgress: {
    sessionId: string;
    status: SessionStatus;
    bytesConfirmed: number;
    totalBytes: number;
    percentage: number;
    completedChunkCount: number;
    transferRateBps: number;
    updatedAt: string;
  };
};

export type MyDownloadsQueryVariables = Exact<{
  status?: SessionStatus | null | undefined;
  first?: number | null | undefined;
}>;

export type MyDownloadsQuery = {
  myDownloads: Array<{
    id: string;
    fileId: string;
    clientId: string;
    status: SessionStatus;
    totalBytes: number;
    bytesConfirmed: number;
    completedChunks: Array<number>;
    completedChunkCount: number;
    percentage: number;
    transferRateBps: number;
    urlExpiresAt: string;
    expiresAt: string;
    completedAt: string | null;
    createdAt: string;
    updatedAt: string;
  }>;
};

export type StartDownloadMutationVariables = Exact<{
  fileId: string | number;
  clientId?: string | null | undefined;
}>;

export type StartDownloadMutation = {
  startDownload: {
    downloadUrl: string;
    urlExpiresAt: string;
    session: {
      id: string;
      fileId: string;
      clientId: string;
      status: SessionStatus;
      totalBytes: number;
      bytesConfirmed: number;
      completedChunks: Array<number>;
      completedChunkCount: number;
      percentage: number;
      transferRateBps: number;
      urlExpiresAt: string;
      expiresAt: string;
      completedAt: string | null;
      createdAt: string;
      updatedAt: string;
    };
  };
};

export type PauseDownloadMutationVariables = Exact<{
  sessionId: string | number;
  completedChunks?: Array<number> | number | null | undefined;
  bytesConfirmed?: number | null | undefined;
  transferRateBps?: number | null | undefined;
}>;

export type PauseDownloadMutation = {
  pauseDownload: {
    id: string;
    fileId: string;
    clientId: string;
    status: SessionStatus;
    totalBytes: number;
    bytesConfirmed: number;
    completedChunks: Array<number>;
    completedChunkCount: number;
    percentage: number;
    transferRateBps: number;
    urlExpiresAt: string;
    expiresAt: string;
    completedAt: string | null;
    createdAt: string;
    updatedAt: string;
  };
};

export type ResumeDownloadMutationVariables = Exact<{
  sessionId: string | number;
}>;

export type ResumeDownloadMutation = {
  resumeDownload: {
    downloadUrl: string;
    urlExpiresAt: string;
    session: {
      id: string;
      fileId: string;
      clientId: string;
      status: SessionStatus;
      totalBytes: number;
      bytesConfirmed: number;
      completedChunks: Array<number>;
      completedChunkCount: number;
      percentage: number;
      transferRateBps: number;
      urlExpiresAt: string;
      expiresAt: string;
      completedAt: string | null;
      createdAt: string;
      updatedAt: string;
    };
  };
};

export type ReportProgressMutationVariables = Exact<{
  sessionId: string | number;
  completedChunks?: Array<number> | number | null | undefined;
  bytesConfirmed?: number | null | undefined;
  transferRateBps?: number | null | undefined;
}>;

export type ReportProgressMutation = {
  reportProgress: {
    id: string;
    fileId: string;
    clientId: string;
    status: SessionStatus;
    totalBytes: number;
    bytesConfirmed: number;
    completedChunks: Array<number>;
    completedChunkCount: number;
    percentage: number;
    transferRateBps: number;
    urlExpiresAt: string;
    expiresAt: string;
    completedAt: string | null;
    createdAt: string;
    updatedAt: string;
  };
};

export type CompleteDownloadMutationVariables = Exact<{
  sessionId: string | number;
  checksum: string;
}>;

export type CompleteDownloadMutation = {
  completeDownload: {
    id: string;
    fileId: string;
    clientId: string;
    status: SessionStatus;
    totalBytes: number;
    bytesConfirmed: number;
    completedChunks: Array<number>;
    completedChunkCount: number;
    percentage: number;
    transferRateBps: number;
    urlExpiresAt: string;
    expiresAt: string;
    completedAt: string | null;
    createdAt: string;
    updatedAt: string;
  };
};

export type RefreshDownloadUrlMutationVariables = Exact<{
  sessionId: string | number;
}>;

export type RefreshDownloadUrlMutation = {
  refreshDownloadUrl: {
    downloadUrl: string;
    urlExpiresAt: string;
    session: {
      id: string;
      fileId: string;
      clientId: string;
      status: SessionStatus;
      totalBytes: number;
      bytesConfirmed: number;
      completedChunks: Array<number>;
      completedChunkCount: number;
      percentage: number;
      transferRateBps: number;
      urlExpiresAt: string;
      expiresAt: string;
      completedAt: string | null;
      createdAt: string;
      updatedAt: string;
    };
  };
};

export const FileFieldsFragmentDoc = {
  kind: 'Document',
  definitions: [
    {
      kind: 'FragmentDefinition',
      name: { kind: 'Name', value: 'FileFields' },
      typeCondition: { kind: 'NamedType', name: { kind: 'Name', value: 'File' } },
      selectionSet: {
        kind: 'SelectionSet',
        selections: [
          { kind: 'Field', name: { kind: 'Name', value: 'id' } },
          { kind: 'Field', name: { kind: 'Name', value: 'name' } },
          { kind: 'Field', name: { kind: 'Name', value: 'sizeBytes' } },
          { kind: 'Field', name: { kind: 'Name', value: 'contentType' } },
          { kind: 'Field', name: { kind: 'Name', value: 'checksum' } },
          { kind: 'Field', name: { kind: 'Name', value: 'chunkSize' } },
          { kind: 'Field', name: { kind: 'Name', value: 'chunkCount' } },
          { kind: 'Field', name: { kind: 'Name', value: 'merkleRoot' } },
          { kind: 'Field', name: { kind: 'Name', value: 'status' } },
          { kind: 'Field', name: { kind: 'Name', value: 'failReason' } },
          { kind: 'Field', name: { kind: 'Name', value: 'createdAt' } },
        ],
      },
    },
  ],
} as unknown as DocumentNode<FileFieldsFragment, unknown>;
export const SessionFieldsFragmentDoc = {
  kind: 'Document',
  definitions: [
    {
      kind: 'FragmentDefinition',
      name: { kind: 'Name', value: 'SessionFields' },
      typeCondition: { kind: 'NamedType', name: { kind: 'Name', value: 'DownloadSession' } },
      selectionSet: {
        kind: 'SelectionSet',
        selections: [
          { kind: 'Field', name: { kind: 'Name', value: 'id' } },
          { kind: 'Field', name: { kind: 'Name', value: 'fileId' } },
          { kind: 'Field', name: { kind: 'Name', value: 'clientId' } },
          { kind: 'Field', name: { kind: 'Name', value: 'status' } },
          { kind: 'Field', name: { kind: 'Name', value: 'totalBytes' } },
          { kind: 'Field', name: { kind: 'Name', value: 'bytesConfirmed' } },
          { kind: 'Field', name: { kind: 'Name', value: 'completedChunks' } },
          { kind: 'Field', name: { kind: 'Name', value: 'completedChunkCount' } },
          { kind: 'Field', name: { kind: 'Name', value: 'percentage' } },
          { kind: 'Field', name: { kind: 'Name', value: 'transferRateBps' } },
          { kind: 'Field', name: { kind: 'Name', value: 'urlExpiresAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'expiresAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'completedAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'createdAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'updatedAt' } },
        ],
      },
    },
  ],
} as unknown as DocumentNode<SessionFieldsFragment, unknown>;
export const TicketFieldsFragmentDoc = {
  kind: 'Document',
  definitions: [
    {
      kind: 'FragmentDefinition',
      name: { kind: 'Name', value: 'TicketFields' },
      typeCondition: { kind: 'NamedType', name: { kind: 'Name', value: 'DownloadTicket' } },
      selectionSet: {
        kind: 'SelectionSet',
        selections: [
          { kind: 'Field', name: { kind: 'Name', value: 'downloadUrl' } },
          { kind: 'Field', name: { kind: 'Name', value: 'urlExpiresAt' } },
          {
            kind: 'Field',
            name: { kind: 'Name', value: 'session' },
            selectionSet: {
              kind: 'SelectionSet',
              selections: [{ kind: 'FragmentSpread', name: { kind: 'Name', value: 'SessionFields' } }],
            },
          },
        ],
      },
    },
    {
      kind: 'FragmentDefinition',
      name: { kind: 'Name', value: 'SessionFields' },
      typeCondition: { kind: 'NamedType', name: { kind: 'Name', value: 'DownloadSession' } },
      selectionSet: {
        kind: 'SelectionSet',
        selections: [
          { kind: 'Field', name: { kind: 'Name', value: 'id' } },
          { kind: 'Field', name: { kind: 'Name', value: 'fileId' } },
          { kind: 'Field', name: { kind: 'Name', value: 'clientId' } },
          { kind: 'Field', name: { kind: 'Name', value: 'status' } },
          { kind: 'Field', name: { kind: 'Name', value: 'totalBytes' } },
          { kind: 'Field', name: { kind: 'Name', value: 'bytesConfirmed' } },
          { kind: 'Field', name: { kind: 'Name', value: 'completedChunks' } },
          { kind: 'Field', name: { kind: 'Name', value: 'completedChunkCount' } },
          { kind: 'Field', name: { kind: 'Name', value: 'percentage' } },
          { kind: 'Field', name: { kind: 'Name', value: 'transferRateBps' } },
          { kind: 'Field', name: { kind: 'Name', value: 'urlExpiresAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'expiresAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'completedAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'createdAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'updatedAt' } },
        ],
      },
    },
  ],
} as unknown as DocumentNode<TicketFieldsFragment, unknown>;
export const FileDocument = {
  kind: 'Document',
  definitions: [
    {
      kind: 'OperationDefinition',
      operation: 'query',
      name: { kind: 'Name', value: 'File' },
      variableDefinitions: [
        {
          kind: 'VariableDefinition',
          variable: { kind: 'Variable', name: { kind: 'Name', value: 'id' } },
          type: { kind: 'NonNullType', type: { kind: 'NamedType', name: { kind: 'Name', value: 'ID' } } },
        },
      ],
      selectionSet: {
        kind: 'SelectionSet',
        selections: [
          {
            kind: 'Field',
            name: { kind: 'Name', value: 'file' },
            arguments: [
              {
                kind: 'Argument',
                name: { kind: 'Name', value: 'id' },
                value: { kind: 'Variable', name: { kind: 'Name', value: 'id' } },
              },
            ],
            selectionSet: {
              kind: 'SelectionSet',
              selections: [{ kind: 'FragmentSpread', name: { kind: 'Name', value: 'FileFields' } }],
            },
          },
        ],
      },
    },
    {
      kind: 'FragmentDefinition',
      name: { kind: 'Name', value: 'FileFields' },
      typeCondition: { kind: 'NamedType', name: { kind: 'Name', value: 'File' } },
      selectionSet: {
        kind: 'SelectionSet',
        selections: [
          { kind: 'Field', name: { kind: 'Name', value: 'id' } },
          { kind: 'Field', name: { kind: 'Name', value: 'name' } },
          { kind: 'Field', name: { kind: 'Name', value: 'sizeBytes' } },
          { kind: 'Field', name: { kind: 'Name', value: 'contentType' } },
          { kind: 'Field', name: { kind: 'Name', value: 'checksum' } },
          { kind: 'Field', name: { kind: 'Name', value: 'chunkSize' } },
          { kind: 'Field', name: { kind: 'Name', value: 'chunkCount' } },
          { kind: 'Field', name: { kind: 'Name', value: 'merkleRoot' } },
          { kind: 'Field', name: { kind: 'Name', value: 'status' } },
          { kind: 'Field', name: { kind: 'Name', value: 'failReason' } },
          { kind: 'Field', name: { kind: 'Name', value: 'createdAt' } },
        ],
      },
    },
  ],
} as unknown as DocumentNode<FileQuery, FileQueryVariables>;
export const FilesDocument = {
  kind: 'Document',
  definitions: [
    {
      kind: 'OperationDefinition',
      operation: 'query',
      name: { kind: 'Name', value: 'Files' },
      variableDefinitions: [
        {
          kind: 'VariableDefinition',
          variable: { kind: 'Variable', name: { kind: 'Name', value: 'first' } },
          type: { kind: 'NamedType', name: { kind: 'Name', value: 'Int' } },
        },
        {
          kind: 'VariableDefinition',
          variable: { kind: 'Variable', name: { kind: 'Name', value: 'after' } },
          type: { kind: 'NamedType', name: { kind: 'Name', value: 'String' } },
        },
      ],
      selectionSet: {
        kind: 'SelectionSet',
        selections: [
          {
            kind: 'Field',
            name: { kind: 'Name', value: 'files' },
            arguments: [
              {
                kind: 'Argument',
                name: { kind: 'Name', value: 'first' },
                value: { kind: 'Variable', name: { kind: 'Name', value: 'first' } },
              },
              {
                kind: 'Argument',
                name: { kind: 'Name', value: 'after' },
                value: { kind: 'Variable', name: { kind: 'Name', value: 'after' } },
              },
            ],
            selectionSet: {
              kind: 'SelectionSet',
              selections: [
                {
                  kind: 'Field',
                  name: { kind: 'Name', value: 'edges' },
                  selectionSet: {
                    kind: 'SelectionSet',
                    selections: [
                      { kind: 'Field', name: { kind: 'Name', value: 'cursor' } },
                      {
                        kind: 'Field',
                        name: { kind: 'Name', value: 'node' },
                        selectionSet: {
                          kind: 'SelectionSet',
                          selections: [{ kind: 'FragmentSpread', name: { kind: 'Name', value: 'FileFields' } }],
                        },
                      },
                    ],
                  },
                },
                {
                  kind: 'Field',
                  name: { kind: 'Name', value: 'pageInfo' },
                  selectionSet: {
                    kind: 'SelectionSet',
                    selections: [
                      { kind: 'Field', name: { kind: 'Name', value: 'hasNextPage' } },
                      { kind: 'Field', name: { kind: 'Name', value: 'endCursor' } },
                    ],
                  },
                },
              ],
            },
          },
        ],
      },
    },
    {
      kind: 'FragmentDefinition',
      name: { kind: 'Name', value: 'FileFields' },
      typeCondition: { kind: 'NamedType', name: { kind: 'Name', value: 'File' } },
      selectionSet: {
        kind: 'SelectionSet',
        selections: [
          { kind: 'Field', name: { kind: 'Name', value: 'id' } },
          { kind: 'Field', name: { kind: 'Name', value: 'name' } },
          { kind: 'Field', name: { kind: 'Name', value: 'sizeBytes' } },
          { kind: 'Field', name: { kind: 'Name', value: 'contentType' } },
          { kind: 'Field', name: { kind: 'Name', value: 'checksum' } },
          { kind: 'Field', name: { kind: 'Name', value: 'chunkSize' } },
          { kind: 'Field', name: { kind: 'Name', value: 'chunkCount' } },
          { kind: 'Field', name: { kind: 'Name', value: 'merkleRoot' } },
          { kind: 'Field', name: { kind: 'Name', value: 'status' } },
          { kind: 'Field', name: { kind: 'Name', value: 'failReason' } },
          { kind: 'Field', name: { kind: 'Name', value: 'createdAt' } },
        ],
      },
    },
  ],
} as unknown as DocumentNode<FilesQuery, FilesQueryVariables>;
export const DownloadSessionDocument = {
  kind: 'Document',
  definitions: [
    {
      kind: 'OperationDefinition',
      operation: 'query',
      name: { kind: 'Name', value: 'DownloadSession' },
      variableDefinitions: [
        {
          kind: 'VariableDefinition',
          variable: { kind: 'Variable', name: { kind: 'Name', value: 'id' } },
          type: { kind: 'NonNullType', type: { kind: 'NamedType', name: { kind: 'Name', value: 'ID' } } },
        },
      ],
      selectionSet: {
        kind: 'SelectionSet',
        selections: [
          {
            kind: 'Field',
            name: { kind: 'Name', value: 'downloadSession' },
            arguments: [
              {
                kind: 'Argument',
                name: { kind: 'Name', value: 'id' },
                value: { kind: 'Variable', name: { kind: 'Name', value: 'id' } },
              },
            ],
            selectionSet: {
              kind: 'SelectionSet',
              selections: [{ kind: 'FragmentSpread', name: { kind: 'Name', value: 'SessionFields' } }],
            },
          },
        ],
      },
    },
    {
      kind: 'FragmentDefinition',
      name: { kind: 'Name', value: 'SessionFields' },
      typeCondition: { kind: 'NamedType', name: { kind: 'Name', value: 'DownloadSession' } },
      selectionSet: {
        kind: 'SelectionSet',
        selections: [
          { kind: 'Field', name: { kind: 'Name', value: 'id' } },
          { kind: 'Field', name: { kind: 'Name', value: 'fileId' } },
          { kind: 'Field', name: { kind: 'Name', value: 'clientId' } },
          { kind: 'Field', name: { kind: 'Name', value: 'status' } },
          { kind: 'Field', name: { kind: 'Name', value: 'totalBytes' } },
          { kind: 'Field', name: { kind: 'Name', value: 'bytesConfirmed' } },
          { kind: 'Field', name: { kind: 'Name', value: 'completedChunks' } },
          { kind: 'Field', name: { kind: 'Name', value: 'completedChunkCount' } },
          { kind: 'Field', name: { kind: 'Name', value: 'percentage' } },
          { kind: 'Field', name: { kind: 'Name', value: 'transferRateBps' } },
          { kind: 'Field', name: { kind: 'Name', value: 'urlExpiresAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'expiresAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'completedAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'createdAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'updatedAt' } },
        ],
      },
    },
  ],
} as unknown as DocumentNode<DownloadSessionQuery, DownloadSessionQueryVariables>;
export const DownloadProgressDocument = {
  kind: 'Document',
  definitions: [
    {
      kind: 'OperationDefinition',
      operation: 'query',
      name: { kind: 'Name', value: 'DownloadProgress' },
      variableDefinitions: [
        {
          kind: 'VariableDefinition',
          variable: { kind: 'Variable', name: { kind: 'Name', value: 'sessionId' } },
          type: { kind: 'NonNullType', type: { kind: 'NamedType', name: { kind: 'Name', value: 'ID' } } },
        },
      ],
      selectionSet: {
        kind: 'SelectionSet',
        selections: [
          {
            kind: 'Field',
            name: { kind: 'Name', value: 'downloadProgress' },
            arguments: [
              {
                kind: 'Argument',
                name: { kind: 'Name', value: 'sessionId' },
                value: { kind: 'Variable', name: { kind: 'Name', value: 'sessionId' } },
              },
            ],
            selectionSet: {
              kind: 'SelectionSet',
              selections: [
                { kind: 'Field', name: { kind: 'Name', value: 'sessionId' } },
                { kind: 'Field', name: { kind: 'Name', value: 'status' } },
                { kind: 'Field', name: { kind: 'Name', value: 'bytesConfirmed' } },
                { kind: 'Field', name: { kind: 'Name', value: 'totalBytes' } },
                { kind: 'Field', name: { kind: 'Name', value: 'percentage' } },
                { kind: 'Field', name: { kind: 'Name', value: 'completedChunkCount' } },
                { kind: 'Field', name: { kind: 'Name', value: 'transferRateBps' } },
                { kind: 'Field', name: { kind: 'Name', value: 'updatedAt' } },
              ],
            },
          },
        ],
      },
    },
  ],
} as unknown as DocumentNode<DownloadProgressQuery, DownloadProgressQueryVariables>;
export const MyDownloadsDocument = {
  kind: 'Document',
  definitions: [
    {
      kind: 'OperationDefinition',
      operation: 'query',
      name: { kind: 'Name', value: 'MyDownloads' },
      variableDefinitions: [
        {
          kind: 'VariableDefinition',
          variable: { kind: 'Variable', name: { kind: 'Name', value: 'status' } },
          type: { kind: 'NamedType', name: { kind: 'Name', value: 'SessionStatus' } },
        },
        {
          kind: 'VariableDefinition',
          variable: { kind: 'Variable', name: { kind: 'Name', value: 'first' } },
          type: { kind: 'NamedType', name: { kind: 'Name', value: 'Int' } },
        },
      ],
      selectionSet: {
        kind: 'SelectionSet',
        selections: [
          {
            kind: 'Field',
            name: { kind: 'Name', value: 'myDownloads' },
            arguments: [
              {
                kind: 'Argument',
                name: { kind: 'Name', value: 'status' },
                value: { kind: 'Variable', name: { kind: 'Name', value: 'status' } },
              },
              {
                kind: 'Argument',
                name: { kind: 'Name', value: 'first' },
                value: { kind: 'Variable', name: { kind: 'Name', value: 'first' } },
              },
            ],
            selectionSet: {
              kind: 'SelectionSet',
              selections: [{ kind: 'FragmentSpread', name: { kind: 'Name', value: 'SessionFields' } }],
            },
          },
        ],
      },
    },
    {
      kind: 'FragmentDefinition',
      name: { kind: 'Name', value: 'SessionFields' },
      typeCondition: { kind: 'NamedType', name: { kind: 'Name', value: 'DownloadSession' } },
      selectionSet: {
        kind: 'SelectionSet',
        selections: [
          { kind: 'Field', name: { kind: 'Name', value: 'id' } },
          { kind: 'Field', name: { kind: 'Name', value: 'fileId' } },
          { kind: 'Field', name: { kind: 'Name', value: 'clientId' } },
          { kind: 'Field', name: { kind: 'Name', value: 'status' } },
          { kind: 'Field', name: { kind: 'Name', value: 'totalBytes' } },
          { kind: 'Field', name: { kind: 'Name', value: 'bytesConfirmed' } },
          { kind: 'Field', name: { kind: 'Name', value: 'completedChunks' } },
          { kind: 'Field', name: { kind: 'Name', value: 'completedChunkCount' } },
          { kind: 'Field', name: { kind: 'Name', value: 'percentage' } },
          { kind: 'Field', name: { kind: 'Name', value: 'transferRateBps' } },
          { kind: 'Field', name: { kind: 'Name', value: 'urlExpiresAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'expiresAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'completedAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'createdAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'updatedAt' } },
        ],
      },
    },
  ],
} as unknown as DocumentNode<MyDownloadsQuery, MyDownloadsQueryVariables>;
export const StartDownloadDocument = {
  kind: 'Document',
  definitions: [
    {
      kind: 'OperationDefinition',
      operation: 'mutation',
      name: { kind: 'Name', value: 'StartDownload' },
      variableDefinitions: [
        {
          kind: 'VariableDefinition',
          variable: { kind: 'Variable', name: { kind: 'Name', value: 'fileId' } },
          type: { kind: 'NonNullType', type: { kind: 'NamedType', name: { kind: 'Name', value: 'ID' } } },
        },
        {
          kind: 'VariableDefinition',
          variable: { kind: 'Variable', name: { kind: 'Name', value: 'clientId' } },
          type: { kind: 'NamedType', name: { kind: 'Name', value: 'String' } },
        },
      ],
      selectionSet: {
        kind: 'SelectionSet',
        selections: [
          {
            kind: 'Field',
            name: { kind: 'Name', value: 'startDownload' },
            arguments: [
              {
                kind: 'Argument',
                name: { kind: 'Name', value: 'fileId' },
                value: { kind: 'Variable', name: { kind: 'Name', value: 'fileId' } },
              },
              {
                kind: 'Argument',
                name: { kind: 'Name', value: 'clientId' },
                value: { kind: 'Variable', name: { kind: 'Name', value: 'clientId' } },
              },
            ],
            selectionSet: {
              kind: 'SelectionSet',
              selections: [{ kind: 'FragmentSpread', name: { kind: 'Name', value: 'TicketFields' } }],
            },
          },
        ],
      },
    },
    {
      kind: 'FragmentDefinition',
      name: { kind: 'Name', value: 'SessionFields' },
      typeCondition: { kind: 'NamedType', name: { kind: 'Name', value: 'DownloadSession' } },
      selectionSet: {
        kind: 'SelectionSet',
        selections: [
          { kind: 'Field', name: { kind: 'Name', value: 'id' } },
          { kind: 'Field', name: { kind: 'Name', value: 'fileId' } },
          { kind: 'Field', name: { kind: 'Name', value: 'clientId' } },
          { kind: 'Field', name: { kind: 'Name', value: 'status' } },
          { kind: 'Field', name: { kind: 'Name', value: 'totalBytes' } },
          { kind: 'Field', name: { kind: 'Name', value: 'bytesConfirmed' } },
          { kind: 'Field', name: { kind: 'Name', value: 'completedChunks' } },
          { kind: 'Field', name: { kind: 'Name', value: 'completedChunkCount' } },
          { kind: 'Field', name: { kind: 'Name', value: 'percentage' } },
          { kind: 'Field', name: { kind: 'Name', value: 'transferRateBps' } },
          { kind: 'Field', name: { kind: 'Name', value: 'urlExpiresAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'expiresAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'completedAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'createdAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'updatedAt' } },
        ],
      },
    },
    {
      kind: 'FragmentDefinition',
      name: { kind: 'Name', value: 'TicketFields' },
      typeCondition: { kind: 'NamedType', name: { kind: 'Name', value: 'DownloadTicket' } },
      selectionSet: {
        kind: 'SelectionSet',
        selections: [
          { kind: 'Field', name: { kind: 'Name', value: 'downloadUrl' } },
          { kind: 'Field', name: { kind: 'Name', value: 'urlExpiresAt' } },
          {
            kind: 'Field',
            name: { kind: 'Name', value: 'session' },
            selectionSet: {
              kind: 'SelectionSet',
              selections: [{ kind: 'FragmentSpread', name: { kind: 'Name', value: 'SessionFields' } }],
            },
          },
        ],
      },
    },
  ],
} as unknown as DocumentNode<StartDownloadMutation, StartDownloadMutationVariables>;
export const PauseDownloadDocument = {
  kind: 'Document',
  definitions: [
    {
      kind: 'OperationDefinition',
      operation: 'mutation',
      name: { kind: 'Name', value: 'PauseDownload' },
      variableDefinitions: [
        {
          kind: 'VariableDefinition',
          variable: { kind: 'Variable', name: { kind: 'Name', value: 'sessionId' } },
          type: { kind: 'NonNullType', type: { kind: 'NamedType', name: { kind: 'Name', value: 'ID' } } },
        },
        {
          kind: 'VariableDefinition',
          variable: { kind: 'Variable', name: { kind: 'Name', value: 'completedChunks' } },
          type: {
            kind: 'ListType',
            type: { kind: 'NonNullType', type: { kind: 'NamedType', name: { kind: 'Name', value: 'Int' } } },
          },
        },
        {
          kind: 'VariableDefinition',
          variable: { kind: 'Variable', name: { kind: 'Name', value: 'bytesConfirmed' } },
          type: { kind: 'NamedType', name: { kind: 'Name', value: 'ByteCount' } },
        },
        {
          kind: 'VariableDefinition',
          variable: { kind: 'Variable', name: { kind: 'Name', value: 'transferRateBps' } },
          type: { kind: 'NamedType', name: { kind: 'Name', value: 'ByteCount' } },
        },
      ],
      selectionSet: {
        kind: 'SelectionSet',
        selections: [
          {
            kind: 'Field',
            name: { kind: 'Name', value: 'pauseDownload' },
            arguments: [
              {
                kind: 'Argument',
                name: { kind: 'Name', value: 'sessionId' },
                value: { kind: 'Variable', name: { kind: 'Name', value: 'sessionId' } },
              },
              {
                kind: 'Argument',
                name: { kind: 'Name', value: 'completedChunks' },
                value: { kind: 'Variable', name: { kind: 'Name', value: 'completedChunks' } },
              },
              {
                kind: 'Argument',
                name: { kind: 'Name', value: 'bytesConfirmed' },
                value: { kind: 'Variable', name: { kind: 'Name', value: 'bytesConfirmed' } },
              },
              {
                kind: 'Argument',
                name: { kind: 'Name', value: 'transferRateBps' },
                value: { kind: 'Variable', name: { kind: 'Name', value: 'transferRateBps' } },
              },
            ],
            selectionSet: {
              kind: 'SelectionSet',
              selections: [{ kind: 'FragmentSpread', name: { kind: 'Name', value: 'SessionFields' } }],
            },
          },
        ],
      },
    },
    {
      kind: 'FragmentDefinition',
      name: { kind: 'Name', value: 'SessionFields' },
      typeCondition: { kind: 'NamedType', name: { kind: 'Name', value: 'DownloadSession' } },
      selectionSet: {
        kind: 'SelectionSet',
        selections: [
          { kind: 'Field', name: { kind: 'Name', value: 'id' } },
          { kind: 'Field', name: { kind: 'Name', value: 'fileId' } },
          { kind: 'Field', name: { kind: 'Name', value: 'clientId' } },
          { kind: 'Field', name: { kind: 'Name', value: 'status' } },
          { kind: 'Field', name: { kind: 'Name', value: 'totalBytes' } },
          { kind: 'Field', name: { kind: 'Name', value: 'bytesConfirmed' } },
          { kind: 'Field', name: { kind: 'Name', value: 'completedChunks' } },
          { kind: 'Field', name: { kind: 'Name', value: 'completedChunkCount' } },
          { kind: 'Field', name: { kind: 'Name', value: 'percentage' } },
          { kind: 'Field', name: { kind: 'Name', value: 'transferRateBps' } },
          { kind: 'Field', name: { kind: 'Name', value: 'urlExpiresAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'expiresAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'completedAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'createdAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'updatedAt' } },
        ],
      },
    },
  ],
} as unknown as DocumentNode<PauseDownloadMutation, PauseDownloadMutationVariables>;
export const ResumeDownloadDocument = {
  kind: 'Document',
  definitions: [
    {
      kind: 'OperationDefinition',
      operation: 'mutation',
      name: { kind: 'Name', value: 'ResumeDownload' },
      variableDefinitions: [
        {
          kind: 'VariableDefinition',
          variable: { kind: 'Variable', name: { kind: 'Name', value: 'sessionId' } },
          type: { kind: 'NonNullType', type: { kind: 'NamedType', name: { kind: 'Name', value: 'ID' } } },
        },
      ],
      selectionSet: {
        kind: 'SelectionSet',
        selections: [
          {
            kind: 'Field',
            name: { kind: 'Name', value: 'resumeDownload' },
            arguments: [
              {
                kind: 'Argument',
                name: { kind: 'Name', value: 'sessionId' },
                value: { kind: 'Variable', name: { kind: 'Name', value: 'sessionId' } },
              },
            ],
            selectionSet: {
              kind: 'SelectionSet',
              selections: [{ kind: 'FragmentSpread', name: { kind: 'Name', value: 'TicketFields' } }],
            },
          },
        ],
      },
    },
    {
      kind: 'FragmentDefinition',
      name: { kind: 'Name', value: 'SessionFields' },
      typeCondition: { kind: 'NamedType', name: { kind: 'Name', value: 'DownloadSession' } },
      selectionSet: {
        kind: 'SelectionSet',
        selections: [
          { kind: 'Field', name: { kind: 'Name', value: 'id' } },
          { kind: 'Field', name: { kind: 'Name', value: 'fileId' } },
          { kind: 'Field', name: { kind: 'Name', value: 'clientId' } },
          { kind: 'Field', name: { kind: 'Name', value: 'status' } },
          { kind: 'Field', name: { kind: 'Name', value: 'totalBytes' } },
          { kind: 'Field', name: { kind: 'Name', value: 'bytesConfirmed' } },
          { kind: 'Field', name: { kind: 'Name', value: 'completedChunks' } },
          { kind: 'Field', name: { kind: 'Name', value: 'completedChunkCount' } },
          { kind: 'Field', name: { kind: 'Name', value: 'percentage' } },
          { kind: 'Field', name: { kind: 'Name', value: 'transferRateBps' } },
          { kind: 'Field', name: { kind: 'Name', value: 'urlExpiresAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'expiresAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'completedAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'createdAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'updatedAt' } },
        ],
      },
    },
    {
      kind: 'FragmentDefinition',
      name: { kind: 'Name', value: 'TicketFields' },
      typeCondition: { kind: 'NamedType', name: { kind: 'Name', value: 'DownloadTicket' } },
      selectionSet: {
        kind: 'SelectionSet',
        selections: [
          { kind: 'Field', name: { kind: 'Name', value: 'downloadUrl' } },
          { kind: 'Field', name: { kind: 'Name', value: 'urlExpiresAt' } },
          {
            kind: 'Field',
            name: { kind: 'Name', value: 'session' },
            selectionSet: {
              kind: 'SelectionSet',
              selections: [{ kind: 'FragmentSpread', name: { kind: 'Name', value: 'SessionFields' } }],
            },
          },
        ],
      },
    },
  ],
} as unknown as DocumentNode<ResumeDownloadMutation, ResumeDownloadMutationVariables>;
export const ReportProgressDocument = {
  kind: 'Document',
  definitions: [
    {
      kind: 'OperationDefinition',
      operation: 'mutation',
      name: { kind: 'Name', value: 'ReportProgress' },
      variableDefinitions: [
        {
          kind: 'VariableDefinition',
          variable: { kind: 'Variable', name: { kind: 'Name', value: 'sessionId' } },
          type: { kind: 'NonNullType', type: { kind: 'NamedType', name: { kind: 'Name', value: 'ID' } } },
        },
        {
          kind: 'VariableDefinition',
          variable: { kind: 'Variable', name: { kind: 'Name', value: 'completedChunks' } },
          type: {
            kind: 'ListType',
            type: { kind: 'NonNullType', type: { kind: 'NamedType', name: { kind: 'Name', value: 'Int' } } },
          },
        },
        {
          kind: 'VariableDefinition',
          variable: { kind: 'Variable', name: { kind: 'Name', value: 'bytesConfirmed' } },
          type: { kind: 'NamedType', name: { kind: 'Name', value: 'ByteCount' } },
        },
        {
          kind: 'VariableDefinition',
          variable: { kind: 'Variable', name: { kind: 'Name', value: 'transferRateBps' } },
          type: { kind: 'NamedType', name: { kind: 'Name', value: 'ByteCount' } },
        },
      ],
      selectionSet: {
        kind: 'SelectionSet',
        selections: [
          {
            kind: 'Field',
            name: { kind: 'Name', value: 'reportProgress' },
            arguments: [
              {
                kind: 'Argument',
                name: { kind: 'Name', value: 'sessionId' },
                value: { kind: 'Variable', name: { kind: 'Name', value: 'sessionId' } },
              },
              {
                kind: 'Argument',
                name: { kind: 'Name', value: 'completedChunks' },
                value: { kind: 'Variable', name: { kind: 'Name', value: 'completedChunks' } },
              },
              {
                kind: 'Argument',
                name: { kind: 'Name', value: 'bytesConfirmed' },
                value: { kind: 'Variable', name: { kind: 'Name', value: 'bytesConfirmed' } },
              },
              {
                kind: 'Argument',
                name: { kind: 'Name', value: 'transferRateBps' },
                value: { kind: 'Variable', name: { kind: 'Name', value: 'transferRateBps' } },
              },
            ],
            selectionSet: {
              kind: 'SelectionSet',
              selections: [{ kind: 'FragmentSpread', name: { kind: 'Name', value: 'SessionFields' } }],
            },
          },
        ],
      },
    },
    {
      kind: 'FragmentDefinition',
      name: { kind: 'Name', value: 'SessionFields' },
      typeCondition: { kind: 'NamedType', name: { kind: 'Name', value: 'DownloadSession' } },
      selectionSet: {
        kind: 'SelectionSet',
        selections: [
          { kind: 'Field', name: { kind: 'Name', value: 'id' } },
          { kind: 'Field', name: { kind: 'Name', value: 'fileId' } },
          { kind: 'Field', name: { kind: 'Name', value: 'clientId' } },
          { kind: 'Field', name: { kind: 'Name', value: 'status' } },
          { kind: 'Field', name: { kind: 'Name', value: 'totalBytes' } },
          { kind: 'Field', name: { kind: 'Name', value: 'bytesConfirmed' } },
          { kind: 'Field', name: { kind: 'Name', value: 'completedChunks' } },
          { kind: 'Field', name: { kind: 'Name', value: 'completedChunkCount' } },
          { kind: 'Field', name: { kind: 'Name', value: 'percentage' } },
          { kind: 'Field', name: { kind: 'Name', value: 'transferRateBps' } },
          { kind: 'Field', name: { kind: 'Name', value: 'urlExpiresAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'expiresAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'completedAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'createdAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'updatedAt' } },
        ],
      },
    },
  ],
} as unknown as DocumentNode<ReportProgressMutation, ReportProgressMutationVariables>;
export const CompleteDownloadDocument = {
  kind: 'Document',
  definitions: [
    {
      kind: 'OperationDefinition',
      operation: 'mutation',
      name: { kind: 'Name', value: 'CompleteDownload' },
      variableDefinitions: [
        {
          kind: 'VariableDefinition',
          variable: { kind: 'Variable', name: { kind: 'Name', value: 'sessionId' } },
          type: { kind: 'NonNullType', type: { kind: 'NamedType', name: { kind: 'Name', value: 'ID' } } },
        },
        {
          kind: 'VariableDefinition',
          variable: { kind: 'Variable', name: { kind: 'Name', value: 'checksum' } },
          type: { kind: 'NonNullType', type: { kind: 'NamedType', name: { kind: 'Name', value: 'String' } } },
        },
      ],
      selectionSet: {
        kind: 'SelectionSet',
        selections: [
          {
            kind: 'Field',
            name: { kind: 'Name', value: 'completeDownload' },
            arguments: [
              {
                kind: 'Argument',
                name: { kind: 'Name', value: 'sessionId' },
                value: { kind: 'Variable', name: { kind: 'Name', value: 'sessionId' } },
              },
              {
                kind: 'Argument',
                name: { kind: 'Name', value: 'checksum' },
                value: { kind: 'Variable', name: { kind: 'Name', value: 'checksum' } },
              },
            ],
            selectionSet: {
              kind: 'SelectionSet',
              selections: [{ kind: 'FragmentSpread', name: { kind: 'Name', value: 'SessionFields' } }],
            },
          },
        ],
      },
    },
    {
      kind: 'FragmentDefinition',
      name: { kind: 'Name', value: 'SessionFields' },
      typeCondition: { kind: 'NamedType', name: { kind: 'Name', value: 'DownloadSession' } },
      selectionSet: {
        kind: 'SelectionSet',
        selections: [
          { kind: 'Field', name: { kind: 'Name', value: 'id' } },
          { kind: 'Field', name: { kind: 'Name', value: 'fileId' } },
          { kind: 'Field', name: { kind: 'Name', value: 'clientId' } },
          { kind: 'Field', name: { kind: 'Name', value: 'status' } },
          { kind: 'Field', name: { kind: 'Name', value: 'totalBytes' } },
          { kind: 'Field', name: { kind: 'Name', value: 'bytesConfirmed' } },
          { kind: 'Field', name: { kind: 'Name', value: 'completedChunks' } },
          { kind: 'Field', name: { kind: 'Name', value: 'completedChunkCount' } },
          { kind: 'Field', name: { kind: 'Name', value: 'percentage' } },
          { kind: 'Field', name: { kind: 'Name', value: 'transferRateBps' } },
          { kind: 'Field', name: { kind: 'Name', value: 'urlExpiresAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'expiresAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'completedAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'createdAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'updatedAt' } },
        ],
      },
    },
  ],
} as unknown as DocumentNode<CompleteDownloadMutation, CompleteDownloadMutationVariables>;
export const RefreshDownloadUrlDocument = {
  kind: 'Document',
  definitions: [
    {
      kind: 'OperationDefinition',
      operation: 'mutation',
      name: { kind: 'Name', value: 'RefreshDownloadUrl' },
      variableDefinitions: [
        {
          kind: 'VariableDefinition',
          variable: { kind: 'Variable', name: { kind: 'Name', value: 'sessionId' } },
          type: { kind: 'NonNullType', type: { kind: 'NamedType', name: { kind: 'Name', value: 'ID' } } },
        },
      ],
      selectionSet: {
        kind: 'SelectionSet',
        selections: [
          {
            kind: 'Field',
            name: { kind: 'Name', value: 'refreshDownloadUrl' },
            arguments: [
              {
                kind: 'Argument',
                name: { kind: 'Name', value: 'sessionId' },
                value: { kind: 'Variable', name: { kind: 'Name', value: 'sessionId' } },
              },
            ],
            selectionSet: {
              kind: 'SelectionSet',
              selections: [{ kind: 'FragmentSpread', name: { kind: 'Name', value: 'TicketFields' } }],
            },
          },
        ],
      },
    },
    {
      kind: 'FragmentDefinition',
      name: { kind: 'Name', value: 'SessionFields' },
      typeCondition: { kind: 'NamedType', name: { kind: 'Name', value: 'DownloadSession' } },
      selectionSet: {
        kind: 'SelectionSet',
        selections: [
          { kind: 'Field', name: { kind: 'Name', value: 'id' } },
          { kind: 'Field', name: { kind: 'Name', value: 'fileId' } },
          { kind: 'Field', name: { kind: 'Name', value: 'clientId' } },
          { kind: 'Field', name: { kind: 'Name', value: 'status' } },
          { kind: 'Field', name: { kind: 'Name', value: 'totalBytes' } },
          { kind: 'Field', name: { kind: 'Name', value: 'bytesConfirmed' } },
          { kind: 'Field', name: { kind: 'Name', value: 'completedChunks' } },
          { kind: 'Field', name: { kind: 'Name', value: 'completedChunkCount' } },
          { kind: 'Field', name: { kind: 'Name', value: 'percentage' } },
          { kind: 'Field', name: { kind: 'Name', value: 'transferRateBps' } },
          { kind: 'Field', name: { kind: 'Name', value: 'urlExpiresAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'expiresAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'completedAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'createdAt' } },
          { kind: 'Field', name: { kind: 'Name', value: 'updatedAt' } },
        ],
      },
    },
    {
      kind: 'FragmentDefinition',
      name: { kind: 'Name', value: 'TicketFields' },
      typeCondition: { kind: 'NamedType', name: { kind: 'Name', value: 'DownloadTicket' } },
      selectionSet: {
        kind: 'SelectionSet',
        selections: [
          { kind: 'Field', name: { kind: 'Name', value: 'downloadUrl' } },
          { kind: 'Field', name: { kind: 'Name', value: 'urlExpiresAt' } },
          {
            kind: 'Field',
            name: { kind: 'Name', value: 'session' },
            selectionSet: {
              kind: 'SelectionSet',
              selections: [{ kind: 'FragmentSpread', name: { kind: 'Name', value: 'SessionFields' } }],
            },
          },
        ],
      },
    },
  ],
} as unknown as DocumentNode<RefreshDownloadUrlMutation, RefreshDownloadUrlMutationVariables>;
